"""Proof that the checks work: the generic contract over every registered check, and one folder per
notebook with its catalogue of correct and wrong implementations."""
