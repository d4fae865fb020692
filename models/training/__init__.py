"""Training the reader: data loading, synthetic questions, the trainer and calibration (not in the wheel)."""
