"""Software twins: pure-NumPy models and laws of the circuits.

Each module is the software side of one block, shared by its generator
(``circuits/``), its extraction recipes, ``regress`` and the network studies:

* :mod:`~pycircuits.twins.mingru` -- the quantized minGRU the ``scgru`` core computes;
* :mod:`~pycircuits.twins.denram` -- the RRAM state band and the RC delay law;
* :mod:`~pycircuits.twins.pcm` -- the PCM conductance drift law;
* :mod:`~pycircuits.twins.memstack` -- the memstack device ranges and its tau = C/g and q = G v t laws.

Nothing here imports PySpice or the engine.
"""
