"""pycircuits: circuit-level SPICE co-simulation for neuromorphic hardware.

Python generates parameterised ngspice netlists (DenRAM dendrites, PCM-trace,
memristive/memcapacitive stacks, switched-capacitor minGRU cores), runs them,
extracts transfer curves and feeds them to a NumPy network simulator.
"""

__version__ = "0.1.0"
