"""Strongroom: a sealed secret store speaking the Vault/OpenBao and DC/OS Secrets APIs."""

__version__ = "0.1.0"
