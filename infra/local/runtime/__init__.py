"""The Lambda runtime, emulated: functions run as Lambda runs them, in warm environments.

* ``emulator``: the Runtime Interface Emulator binary and the runtime interface client.
* ``fleet``: one warm emulated environment per function (``LambdaRuntime``, ``Fleet``).
* ``invoker``: the local gateway's invoker over a fleet (``make run LAMBDA_RUNTIME=rie``).
* ``workers`` and ``bootstrap``: the functions from this repository in warm worker
  processes, one invocation per process at a time (``make run``'s default).
"""
