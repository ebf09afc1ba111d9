"""Builders for virtkube's test guests (design.md section 5).

``python -m images.build`` (``make guest-images``) builds the tiny guest from Debian
packages and publishes it under ``build/images/``; :mod:`images.paths` tells tests where.
"""
