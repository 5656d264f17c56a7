"""The sync layer: what each peer lacks, packets built and applied, receipts, pruning, acks.

Joins the wire codecs to the store.  Speaks to media only through the
:class:`~sneakersync.sync.medium.DeadDrop` interface; may import ``wire``, ``store`` and
``errors``, never ``media``, ``server``, ``cli`` or ``demo``.
"""
