"""unimal-gym: the UNIMAL universal-morphology benchmark on modern MuJoCo and Gymnasium."""

__version__ = "0.1.0"
