"""The event record that the log and the broadcaster side share."""
