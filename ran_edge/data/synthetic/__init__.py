"""Synthetic data made on the fly: faces (:mod:`.faces`, drawn by :mod:`.draw`) and test videos (:mod:`.video_gen`).

The default ``--data synthetic`` set (clean, occlusion and pose suites) and the generated videos with
ground truth used by the video pipeline's tests and benchmarks. Importing this package imports nothing.
"""
