"""The Lambda runtime, emulated: packaged zips run as Lambda runs them, one warm environment each.

* ``emulator``: the Runtime Interface Emulator binary and the runtime interface client.
* ``fleet``: one warm emulated environment per function (``LambdaRuntime``, ``Fleet``).
* ``invoker``: the local gateway's invoker over a fleet (``make run LAMBDA_RUNTIME=rie``).
"""
