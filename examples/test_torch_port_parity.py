"""A port repository's own parity test, run by pytest: the port against the float64 truth.

With ``examples/`` on ``PYTHONPATH`` (in a port's repository: its own package) and wgan-parity
installed with the ``torch`` extra: ``pytest examples/test_torch_port_parity.py``. A failure
prints each diverged case with its first divergent tap, as ``wgan-parity check-port`` does.
"""

import wgan_parity


def test_the_residual_blocks_are_at_parity() -> None:
    wgan_parity.assert_port("torch_module_check", cases=["residual_*"])


def test_the_whole_port_is_at_parity() -> None:
    wgan_parity.assert_port("torch_module_check")
