"""Members: one profile per person, registered from a lane, a mini-program or the API."""
