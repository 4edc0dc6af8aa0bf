import os

os.environ.setdefault("JIRL_NO_PROGRESS", "1")
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=1")
