"""The narrated demo and the sample data generator.

``scenario`` runs the main story; ``qr``, ``beacon`` and ``server`` are its optional
parts; ``fielddata`` makes the seeded samples.  May import every layer but ``cli``.
"""
