import os

os.environ.setdefault("JIRL_NO_PROGRESS", "1")  # no progress bars in test logs
