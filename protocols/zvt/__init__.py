"""ZVT (ECR interface of card terminals), sans-I/O: APDUs and BCD (apdu), BMP / TLV fields
(bmp), commands and status information (commands), the ECR's exchange (session) and the
RS-232 framing with CRC-16/XMODEM (serial)."""
