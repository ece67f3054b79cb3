"""The processes (controller, speaker) and the faces that start them (the `dnslb` command)."""
