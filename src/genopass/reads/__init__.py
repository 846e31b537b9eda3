"""The raw-reads path after alignment: the regions calling and coverage work on, and the
comparison of calls with a truth set."""
