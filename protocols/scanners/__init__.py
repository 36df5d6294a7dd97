"""What barcode scanners put on the wire, as sans-I/O parsers (protocols/stream.py): a keyboard
wedge's kernel key events (`wedge`), HID POS input reports (`hidpos`), and suffix-terminated
serial scans (`serial`). Each gives the scanned text; `protocols.codes.classify()` says what it
is. The driver (edge/devices/scanner.py) only moves bytes."""
