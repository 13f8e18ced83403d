"""Pure builders: a spec in, a whole manifest dict out. No I/O, no clients, no clocks.

They use only ``kubetune.api`` and ``kubetune.settings``; controllers adopt and create what they return.
"""
