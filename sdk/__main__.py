"""``python -m tiktok_live``: the ``tiktok-live`` command."""

from tiktok_live.cli import main_exit

main_exit()
