"""Training (CE + RB-loss) and evaluation of RAN models; needs the 'train' extra (torch)."""
