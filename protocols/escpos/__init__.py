"""ESC/POS, sans-I/O: receipt layout → bytes (receipt, text), bytes → events (decoder),
events → text and PNG previews (preview), real-time status (status)."""
