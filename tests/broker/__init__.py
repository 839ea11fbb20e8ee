"""Tests of seam.broker."""
