"""Every rule the scanner reports, with a stable id, a short name and help text (SARIF carries them)."""

from __future__ import annotations

from assay.scan._record import Record


class Rule(Record):
    """One kind of finding."""

    id: str
    name: str
    summary: str
    help: str


_RULES = [
    Rule("AS101", "pickle-dangerous-callable", "A pickle imports or calls a dangerous callable",
         "Loading this pickle (torch.load(weights_only=False), pickle.load, joblib.load, numpy.load(allow_pickle=True)) "
         "imports the named callable and may call it with the arguments shown. Do not load the file; obtain the "
         "weights as safetensors, or re-export them from a trusted source."),
    Rule("AS102", "pickle-unknown-callable", "A pickle imports a callable that is not on the allow-list",
         "Importing a module runs its top-level code and the callable may do anything. If you know it is safe, "
         "allow it with --allow MODULE.NAME or [tool.assay.scan] allow = [...]."),
    Rule("AS103", "pickle-computed-call", "A pickle calls a value that was itself computed while loading",
         "Benign pickles only call imported names. Calling the result of a call is how gadget chains reach code."),
    Rule("AS104", "pickle-extension-code", "A pickle uses EXT1/EXT2/EXT4 (copyreg extension registry)",
         "The callable behind an extension code depends on the loading process; no scanner can resolve it."),
    Rule("AS105", "pickle-frame-mismatch", "A pickle frame's declared length disagrees with its content",
         "Python never writes such frames. The C and pure-Python unpicklers, and scanners, read them differently: "
         "a known way to hide opcodes from scanners."),
    Rule("AS106", "pickle-mutates-import", "A pickle changes attributes or items of an imported object",
         "BUILD/SETITEM/APPEND on a module, class or function rewrites code that later runs in the process."),
    Rule("AS107", "pickle-computed-import", "A pickle imports a name computed while loading",
         "STACK_GLOBAL operands built by calls can name any callable; the scanner cannot know which."),
    Rule("AS108", "pickle-malformed", "A pickle stream is malformed",
         "The unpickler stops with an error here, but everything before this point has already run. Scanners that "
         "give up on malformed streams miss what came before (the 'broken pickle' bypass)."),
    Rule("AS109", "pickle-trailing-data", "Bytes follow the last pickle of a stream", "Usually harmless; reported so "
         "that data hidden after a pickle is visible."),
    Rule("AS110", "format-mismatch", "The content is not the format its name claims",
         "A pickle named .safetensors or .npy is still a pickle. Loaders choose by name, scanners must not."),
    Rule("AS111", "polyglot-file", "A file is valid as two formats at once",
         "For example a pickle that is also a zip: different loaders see different content."),
    Rule("AS112", "loader-parity-unknown", "The scanner cannot tell how the loader reads this part of the file",
         "Where assay cannot follow the loader (an array wrapper whose size it cannot compute, a header variant it "
         "cannot read), the loader may go on reading code that assay never saw. Default deny: this blocks."),
    Rule("AS201", "archive-path-traversal", "An archive member escapes the extraction folder (zip-slip)",
         "Extracting this archive writes outside the target folder."),
    Rule("AS202", "archive-absolute-path", "An archive member has an absolute path",
         "Extracting this archive writes to an absolute location."),
    Rule("AS203", "archive-link", "An archive member is a symbolic or hard link",
         "Links in model archives can point extraction, or a loader, at files outside the model."),
    Rule("AS204", "archive-bomb", "An archive member expands far more than its compressed size",
         "Decompression bombs exhaust disk or memory."),
    Rule("AS205", "archive-malformed", "An archive's headers are inconsistent",
         "Local and central headers disagree, CRCs or flags are wrong, or members overlap. Tolerant readers such as "
         "torch.load still read such archives; strict scanners give up and miss the content."),
    Rule("AS206", "archive-hidden-member", "An archive holds data that its directory does not list",
         "Readers that walk local headers see members that directory-based readers do not, and vice versa."),
    Rule("AS207", "archive-special-member", "An archive member is a device, FIFO or other special file", ""),
    Rule("AS301", "torchscript-dangerous-call", "TorchScript code calls an operator that reaches files or native code",
         "torch.jit.load compiles the code/ folder; these operators read or write files or load libraries."),
    Rule("AS313", "joblib-side-file", "A joblib pickle loads arrays from a side file",
         "Old joblib dumps (NDArrayWrapper) name a .npy file that joblib.load opens with allow_pickle=True. The side "
         "file is scanned; a name that leaves the folder, or a side file that is missing, blocks."),
    Rule("AS311", "numpy-object-array", "A .npy array has an object dtype (it is a pickle)",
         "numpy.load(allow_pickle=True) unpickles the payload; its content is scanned and reported separately."),
    Rule("AS312", "numpy-malformed", "A .npy header is malformed", ""),
    Rule("AS401", "keras-lambda", "A Keras model contains a Lambda layer or serialized Python function",
         "The marshalled bytecode runs when the model is loaded with safe_mode off (and on older Keras always)."),
    Rule("AS402", "keras-external-callable", "A Keras config references a module or function outside Keras",
         "Keras imports and calls the named object while deserializing (the safe_mode bypass class)."),
    Rule("AS403", "keras-malformed", "A Keras config cannot be read", ""),
    Rule("AS411", "tensorflow-dangerous-op", "A TensorFlow graph uses an op that reaches files or runs Python",
         "ReadFile/WriteFile/MatchingFiles touch the file system, PyFunc/EagerPyFunc run Python code."),
    Rule("AS412", "tensorflow-malformed", "A SavedModel protobuf cannot be parsed", ""),
    Rule("AS421", "onnx-external-data-escape", "ONNX external data points outside the model folder",
         "Absolute paths, '..' segments or symlinks make onnx/onnxruntime read arbitrary files."),
    Rule("AS422", "onnx-custom-domain", "An ONNX graph uses operators from a custom domain",
         "Running it requires registering a native custom-op library."),
    Rule("AS423", "onnx-malformed", "An ONNX protobuf cannot be parsed", ""),
    Rule("AS431", "chat-template-injection", "A chat template reaches Python internals",
         "Templates rendered outside a sandbox (llama-cpp-python before 0.2.72, CVE-2024-34359) run code through "
         "dunder attributes such as __class__, __globals__, __subclasses__."),
    Rule("AS432", "chat-template-unparsable", "A chat template does not parse as Jinja", ""),
    Rule("AS433", "gguf-malformed", "A GGUF header is malformed", ""),
    Rule("AS441", "safetensors-malformed", "A safetensors header is malformed or inconsistent",
         "Header length, JSON, dtypes, shapes and offsets must agree; overlapping or out-of-bounds tensors are "
         "how parser bugs in native loaders are reached."),
    Rule("AS451", "remote-code-required", "The model needs trust_remote_code (custom code via auto_map)",
         "Loading runs the Python files shipped with the model. Review them; assay reads each one and reports the calls it finds that run processes, reach the network or run code (AS452)."),
    Rule("AS452", "python-dangerous-call", "Python code shipped with the model calls process, network, eval or "
         "file-write functions", "This code runs when the model is loaded with trust_remote_code=True."),
    Rule("AS454", "remote-code-file", "A config names Python code that a loader runs with trust_remote_code",
         "Any config key (auto_map, custom_pipelines, ...) that names a module makes transformers import it at load "
         "time. The code runs with the loading user's rights; what it calls is listed."),
    Rule("AS453", "python-unparsable", "A Python file shipped with the model does not parse", ""),
]

RULES: dict[str, Rule] = {r.id: r for r in _RULES}
