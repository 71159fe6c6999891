"""The wing: every use of another library's insides, and nothing else.

A module here subclasses, patches or reads private members of one library; the rest of
the project uses libraries through their public APIs only and uses this folder through
each module's ``__all__``. Modules here import the standard library, the library they
adapt and each other, never the rest of ``shared``: the wing is the lowest layer.

``versions.py`` records the version of each library that the modules here were written
against, and ``tests/adapters/test_versions.py`` fails, naming the library and both
versions, when another one is installed. ``docs/design.md`` says why each adapter exists
and what it was measured to save.

This package imports nothing itself: importing one adapter loads only its library.
"""
