"""Who is calling: the SigV4 signature (sigv4.py) and the access key it was made with (keys.py)."""
