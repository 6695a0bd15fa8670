"""What our language hosts share: the LanguageRuntime gRPC server the engine starts, the children it
runs (a program, a plugin, an installer) and how their output and exit codes travel back.

The Go module proxy serves no version of upstream's language hosts (each is a module of its own),
so toolchain/hosts/language_host.py (Python) and toolchain/hosts/nodejs_host.py (Node.js) stand in for them,
each a `LanguageHost` subclass started by `serve`. The stubs are the ones the `pulumi` wheel ships.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import threading
from concurrent import futures

import grpc
from google.protobuf import empty_pb2, json_format
from pulumi.runtime.proto import language_pb2, language_pb2_grpc, plugin_pb2

# Exit code a program uses after it printed a message meant for the user (Go hosts: bail).
EXIT_AFTER_USER_MESSAGE = 32


def go_json(config: dict[str, str]) -> str:
    """PULUMI_CONFIG as the Go hosts encode it, with json.Marshal of a map[string]string: sorted
    keys, no spaces, UTF-8, <, >, &, U+2028 and U+2029 escaped (HTML-safe). The program sees the
    same values either way; the byte count is what Linux's 128 KiB limit applies to."""
    text = json.dumps(dict(sorted(config.items())), separators=(",", ":"), ensure_ascii=False)
    for char in "<>&\u2028\u2029":
        text = text.replace(char, f"\\u{ord(char):04x}")
    return text


def program_options(info: language_pb2.ProgramInfo) -> dict:
    """The project's `runtime.options` from Pulumi.yaml."""
    return json_format.MessageToDict(info.options) if info.HasField("options") else {}


def plugin_version(version: str) -> str:
    """A plugin version as the engine wants it, `v`-prefixed (Go hosts: the same rule)."""
    return version if version.startswith("v") else f"v{version}"


def run_response(code: int) -> language_pb2.RunResponse:
    """What a program's exit code tells the engine (Go hosts: the same three cases)."""
    if code == 0:
        return language_pb2.RunResponse()
    if code == EXIT_AFTER_USER_MESSAGE:
        return language_pb2.RunResponse(bail=True)
    return language_pb2.RunResponse(error=f"program exited with non-zero exit code: {code}")


class LanguageHost(language_pb2_grpc.LanguageRuntimeServicer):
    """The calls every host answers alike, and the bookkeeping of the children it runs."""

    def __init__(self, engine_address: str, tracing: str):
        self.engine_address = engine_address
        self.tracing = tracing
        self.children: set[subprocess.Popen] = set()
        self.stopping = False
        self.lock = threading.Lock()

    def Handshake(self, request, context):
        self.engine_address = request.engine_address
        return language_pb2.LanguageHandshakeResponse()

    def GetPluginInfo(self, request, context):
        return plugin_pb2.PluginInfo(version=os.environ.get("PULUMI_LANGUAGE_HOST_VERSION", ""))

    def Cancel(self, request, context):
        """The user cancelled (Ctrl-C): end the program. SIGTERM, not the Go hosts' SIGINT: a Python
        program interrupted with SIGINT prints a KeyboardInterrupt traceback, which tells the user
        nothing; the engine finishes the cancel (and the next `up` converges) either way."""
        self.signal_children(signal.SIGTERM)
        return empty_pb2.Empty()

    def spawn(self, args: list[str], **kwargs) -> subprocess.Popen:
        """A child in a session of its own: the engine interrupts its plugins' process group when it
        stops, and a program interrupted that way prints a KeyboardInterrupt traceback; the host ends
        its children itself instead, when it is stopped (SIGTERM, no traceback). So once stopping it
        starts none: a child started then would outlive the host's process group (an orphan the
        engine waits for)."""
        with self.lock:
            if self.stopping:
                raise RuntimeError("the language host is stopping: not starting " + args[0])
            child = subprocess.Popen(args, start_new_session=True, **kwargs)
            self.children.add(child)
            return child

    def signal_children(self, signum: int, stop: bool = False) -> None:
        with self.lock:
            self.stopping = self.stopping or stop
            for child in self.children:
                if child.poll() is None:
                    os.killpg(child.pid, signum)

    def wait(self, child: subprocess.Popen) -> int:
        try:
            return child.wait()
        finally:
            with self.lock:
                self.children.discard(child)

    def stream(self, child: subprocess.Popen, message, exit_field: str | None = None):
        """Relay a child's stdout and stderr as they come, then (for RunPlugin) a failing exit code."""
        chunks: queue.Queue = queue.Queue()

        def pump(pipe, field):
            for chunk in iter(lambda: os.read(pipe.fileno(), 65536), b""):
                chunks.put((field, chunk))
            chunks.put((field, None))

        for pipe, field in ((child.stdout, "stdout"), (child.stderr, "stderr")):
            threading.Thread(target=pump, args=(pipe, field), daemon=True).start()
        open_pipes = 2
        try:
            while open_pipes:
                field, chunk = chunks.get()
                if chunk is None:
                    open_pipes -= 1
                else:
                    yield message(**{field: chunk})
            code = child.wait()
        finally:
            with self.lock:
                self.children.discard(child)
        if exit_field and code:
            yield message(**{exit_field: code})

    def run_steps(self, steps: list[list[str]], cwd, context, message):
        """Run commands one after the other (an install), streaming their output; the first that
        fails ends the call with its command line and exit code."""
        for step in steps:
            child = self.spawn(step, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            yield from self.stream(child, message)
            if child.returncode:
                context.abort(grpc.StatusCode.UNKNOWN, f"{' '.join(step[:4])} failed ({child.returncode})")


def serve(host_class: type[LanguageHost], argv: list[str], engine_pid: int) -> None:
    """Started by the engine (`engine_pid`) as `pulumi-language-NAME [-tracing ADDR] ENGINE_ADDRESS`; prints its port."""
    if "-version" in argv or "--version" in argv:
        print(os.environ.get("PULUMI_LANGUAGE_HOST_VERSION", ""))
        return
    tracing, positional = "", []
    args = iter(argv)
    for arg in args:
        if arg in ("-tracing", "--tracing"):
            tracing = next(args, "")
        elif arg.startswith(("-tracing=", "--tracing=")):
            tracing = arg.split("=", 1)[1]
        elif not arg.startswith("-"):
            positional.append(arg)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16),
                         options=[("grpc.max_receive_message_length", 400 * 1024 * 1024)])
    host = host_class(positional[0] if positional else "", tracing)
    language_pb2_grpc.add_LanguageRuntimeServicer_to_server(host, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)

    def stop(*_):  # the engine stops its plugins with SIGINT (then SIGKILL): end quietly
        host.signal_children(signal.SIGTERM, stop=True)
        server.stop(0)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stop)
    threading.Thread(target=watch_engine, args=(engine_pid, stop), daemon=True).start()
    server.wait_for_termination()


def watch_engine(engine_pid: int, stop, every: float = 0.5) -> None:
    """End the host (and its program) once the engine that started it is gone: a CLI killed with
    SIGKILL (an OOM kill, a CI timeout) never stops its plugins, and its children are reparented."""
    while os.getppid() == engine_pid:
        threading.Event().wait(every)
    stop()
