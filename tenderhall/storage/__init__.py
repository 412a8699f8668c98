"""Blob-store housekeeping: collecting blobs no table references (``service``), periodically
(``tasks``)."""
