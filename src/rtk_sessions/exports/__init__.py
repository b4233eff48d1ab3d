"""Downloads: chat CSV, transcripts (CSV, JSON, SRT, VTT), summaries; signed URLs."""
