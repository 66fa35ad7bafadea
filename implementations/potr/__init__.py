"""python-potr 1.0.2 (the OTR library of Gajim's plugin and WeeChat's otr.py) as an implementation under test.

potr's declared dependency, pycrypto, no longer builds; it is installed with
``pip install --no-deps python-potr==1.0.2`` beside pycryptodome, and
:mod:`.compat` supplies what pycryptodome does not (DSA sign/verify mod q,
AES-CTR with potr's counter, key objects from numbers) plus seeded
randomness.  :mod:`.adapter` puts it behind the adapter contract.  Importing
this package does not import potr; importing :mod:`.adapter` does.
"""

INSTALL_HINT = "install with `pip install pycryptodome && pip install --no-deps python-potr==1.0.2`"
