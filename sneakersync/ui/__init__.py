"""The browser UI (``sneakersync ui``): the day's work in a local web page.

A Starlette app bound to 127.0.0.1, server-rendered HTML (Jinja2, escaped by default)
and a little JavaScript served as files; no build step, nothing from the network.
Every page calls the same library functions as the command line: this layer holds
presentation and request checks only.  It sits above ``server``: it may import
``wire``, ``store``, ``sync``, ``media``, ``server`` and ``errors``; only ``cli``
imports it.  Needs the ``[ui]`` extra (Starlette, uvicorn, Jinja2, the QR stack).

- ``session``: the device the UI works on, one lock around its store, the secrets;
- ``security``: the one-time link, the session cookie, CSRF, Origin and Host checks,
  the content security policy;
- ``app``: routes and rendering; ``pages_*``: one module per page;
- ``run``: pick a port, open the browser, serve until interrupted.
"""
