"""The allow-list: callables that real model files reference and that cannot do harm when called
the way the unpickler calls them. Each entry says why.

Entries are exact: ``module.name`` matches only when the pickle names that module and that attribute, never
through a longer or shorter module path (``torch`` + ``nn.modules.linear.Linear`` reaches the same class
only if every attribute on the way is what it seems, which a scanner cannot know). Methods reached through
``getattr`` (protocol 2+ pickles bound and class methods that way) are written ``module:Class.method``.
This hand-written table holds the core; ``safe_harvested.HARVESTED`` holds the names harvested from files the
real libraries write (``scripts/harvest_allowlist.py``). Callables that call or import their arguments also
have an argument contract in ``contracts.py``.
"""

from __future__ import annotations

import re

_TORCH_STORAGES = (
    "Float", "Double", "Half", "BFloat16", "Long", "Int", "Short", "Char", "Byte", "Bool",
    "ComplexFloat", "ComplexDouble", "QUInt8", "QInt8", "QInt32", "QUInt4x2", "QUInt2x4", "Untyped", "Typed",
)
_TORCH_DTYPES = (
    "float32", "float", "float64", "double", "float16", "half", "bfloat16", "complex32", "complex64",
    "complex128", "cfloat", "cdouble", "chalf", "uint8", "uint16", "uint32", "uint64", "int8", "int16", "short",
    "int32", "int", "int64", "long", "bool", "quint8", "qint8", "qint32", "quint4x2", "quint2x4",
    "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz", "float8_e8m0fnu", "float4_e2m1fn_x2",
    "bits8", "bits16", "bits1x8", "bits2x4", "bits4x2", "int1", "int2", "int3", "int4", "int5", "int6", "int7",
    "uint1", "uint2", "uint3", "uint4", "uint5", "uint6", "uint7",
)
_NUMPY_SCALARS = (
    "bool_", "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "intc", "uintc",
    "int_", "uint", "longlong", "ulonglong", "float16", "float32", "float64", "longdouble", "half", "single",
    "double", "complex64", "complex128", "clongdouble", "str_", "bytes_", "void", "object_", "datetime64",
    "timedelta64", "intp", "uintp", "float128", "complex256",
)

SAFE: dict[str, str] = {}


def _add(reason: str, *names: str) -> None:
    for name in names:
        SAFE[name] = reason


_add("builds a plain container or scalar", *(f"builtins.{n}" for n in (
    "set", "frozenset", "list", "dict", "tuple", "bytearray", "bytes", "str", "int", "float", "complex", "bool",
    "slice", "range", "object", "Ellipsis", "NotImplemented", "NoneType", "reversed")))
_add("protocol 0-2 object reconstruction helper; the classes it calls must be allowed (argument contract)",
     "copyreg._reconstructor", "copyreg.__newobj__", "copyreg.__newobj_ex__")
_add("binds arguments to an allowed function (argument contract); calling the result is judged as a call",
     "functools.partial")
_add("protocol 2 encodes bytes as a latin-1 string through codecs.encode (text codecs only: argument contract)",
     "_codecs.encode", "codecs.encode")
_add("standard-library data container", "collections.OrderedDict", "collections.defaultdict", "collections.deque",
     "collections.Counter", "collections.ChainMap", "collections.UserDict", "collections.UserList",
     "collections.UserString", "types.SimpleNamespace", "argparse.Namespace", "array.array",
     "array._array_reconstructor", "typing.Any", "typing.Union", "typing.Optional", "typing.List", "typing.Dict",
     "typing.Tuple", "enum.Enum", "enum.IntEnum")
_add("standard-library value type", "datetime.datetime", "datetime.date", "datetime.time", "datetime.timedelta",
     "datetime.timezone", "decimal.Decimal", "fractions.Fraction", "uuid.UUID", "uuid.SafeUUID", "re._compile",
     "re.Pattern", "ipaddress.IPv4Address", "ipaddress.IPv6Address", "ipaddress.IPv4Network",
     "ipaddress.IPv6Network", "zoneinfo.ZoneInfo", "zoneinfo._common.load_data", "zoneinfo.ZoneInfo._unpickle")
_add("path object; building one touches no file (its methods are on the dangerous table)",
     "pathlib.PurePath", "pathlib.PurePosixPath", "pathlib.PureWindowsPath", "pathlib.Path", "pathlib.PosixPath",
     "pathlib.WindowsPath", "pathlib._local.PosixPath", "pathlib._local.WindowsPath", "pathlib._local.Path")
_add("NumPy array and dtype reconstruction", *(f"{m}.{n}" for m in ("numpy.core.multiarray", "numpy._core.multiarray")
                                               for n in ("_reconstruct", "scalar")),
     "numpy.core.numeric._frombuffer", "numpy._core.numeric._frombuffer", "numpy.core._internal._reconstruct", "numpy.ndarray", "numpy.dtype",
     "numpy.ma.core._mareconstruct", "numpy.ma.core.MaskedArray", "numpy.core.records.recarray",
     "numpy.matrix", "numpy.matrixlib.defmatrix.matrix", "numpy.random._pickle.__randomstate_ctor", "numpy.random._pickle.__bit_generator_ctor",
     "numpy.random._pickle.__generator_ctor", "numpy.random.mtrand.RandomState", "numpy.random._mt19937.MT19937",
     "numpy.random._pcg64.PCG64", "numpy.random._pcg64.PCG64DXSM", "numpy.random._philox.Philox",
     "numpy.random._sfc64.SFC64", "numpy.random._generator.Generator", "numpy.random.mtrand._rand",
     *(f"numpy.{n}" for n in _NUMPY_SCALARS))
_NUMPY_UFUNCS = (
    "absolute", "abs", "add", "arccos", "arccosh", "arcsin", "arcsinh", "arctan", "arctan2", "arctanh", "cbrt",
    "ceil", "clip", "conj", "cos", "cosh", "deg2rad", "degrees", "divide", "exp", "exp2", "expm1", "fabs", "floor",
    "floor_divide", "fmax", "fmin", "fmod", "hypot", "isfinite", "isinf", "isnan", "log", "log10", "log1p", "log2",
    "logaddexp", "logaddexp2", "maximum", "minimum", "multiply", "negative", "positive", "power", "rad2deg",
    "radians", "reciprocal", "remainder", "rint", "sign", "sin", "sinh", "sqrt", "square", "subtract", "tan", "tanh",
    "true_divide", "trunc", "mean", "median", "sum", "std", "var", "nanmean", "nanmedian", "amax", "amin", "max", "min",
)
_add("NumPy math function (a ufunc or reduction stored as a parameter, e.g. FunctionTransformer(np.log1p))",
     *(f"numpy.{n}" for n in _NUMPY_UFUNCS), "numpy.core._ufunc_reconstruct", "numpy._core._ufunc_reconstruct")
_add("dill's array and dtype reconstruction (the callable it is given must be allowed: argument contract)",
     "dill._dill._create_array", "dill._dill._create_dtypemeta")
_add("dill's namedtuple reconstruction; the module and name it imports are judged (argument contract)",
     "dill._dill._create_namedtuple")
_add("PyTorch tensor rebuild helper", *(f"torch._utils.{n}" for n in (
    "_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_tensor_v3", "_rebuild_parameter",
    "_rebuild_parameter_with_state", "_rebuild_sparse_tensor", "_rebuild_nested_tensor",
    "_rebuild_device_tensor_from_numpy", "_rebuild_device_tensor_from_cpu_tensor",
    "_rebuild_meta_tensor_no_storage", "_rebuild_wrapper_subclass", "_rebuild_qtensor", "_rebuild_xla_tensor",
    "_rebuild_mtia_tensor", "_rebuild_sparse_csr_tensor")),
     "torch._tensor._rebuild_from_type", "torch._tensor._rebuild_from_type_v2", "torch.serialization._get_layout",
     "torch.Size", "torch.device", "torch.Tensor", "torch.nn.parameter.Parameter", "torch.nn.parameter.Buffer",
     "torch.nn.parameter.UninitializedParameter", "torch.strided", "torch.sparse_coo", "torch.sparse_csr",
     "torch.contiguous_format", "torch.channels_last", "torch.preserve_format", "torch.per_tensor_affine",
     "torch.per_channel_affine", "torch.per_tensor_symmetric", "torch.per_channel_symmetric",
     "torch.amp.grad_scaler.GradScaler", "torch.cuda.amp.grad_scaler.GradScaler",
     "torch.jit._pickle.build_intlist", "torch.jit._pickle.build_doublelist", "torch.jit._pickle.build_boollist",
     "torch.jit._pickle.build_tensorlist", "torch.jit._pickle.build_tensor_from_id",
     "torch.jit._pickle.restore_type_tag",
     *(f"torch.{n}Storage" for n in _TORCH_STORAGES), *(f"torch.cuda.{n}Storage" for n in _TORCH_STORAGES),
     *(f"torch.storage.{n}Storage" for n in ("Untyped", "Typed")), *(f"torch.{n}" for n in _TORCH_DTYPES))
_add("joblib's wrapper for arrays written after the pickle, or in a side file that the scan reads too (AS313); "
     "old joblib wrote the compat classes under joblib.numpy_pickle, which still re-exports them",
     "joblib.numpy_pickle.NumpyArrayWrapper", "joblib.numpy_pickle_compat.NDArrayWrapper",
     "joblib.numpy_pickle_compat.ZNDArrayWrapper", "joblib.numpy_pickle.NDArrayWrapper",
     "joblib.numpy_pickle.ZNDArrayWrapper", "sklearn.externals.joblib.numpy_pickle.NumpyArrayWrapper")
_add("training-run metadata stored in Hugging Face training_args.bin",
     "transformers.training_args.TrainingArguments", "transformers.training_args_seq2seq.Seq2SeqTrainingArguments",
     "transformers.trainer_utils.IntervalStrategy", "transformers.trainer_utils.SchedulerType",
     "transformers.trainer_utils.HubStrategy", "transformers.trainer_utils.SaveStrategy",
     "transformers.trainer_utils.FSDPOption", "transformers.training_args.OptimizerNames",
     "transformers.debug_utils.DebugOption", "accelerate.utils.dataclasses.DistributedType",
     "accelerate.state.PartialState", "accelerate.utils.dataclasses.DeepSpeedPlugin")
_add("Lightning / OmegaConf hyper-parameter containers in checkpoints",
     "omegaconf.dictconfig.DictConfig", "omegaconf.listconfig.ListConfig", "omegaconf.base.ContainerMetadata",
     "omegaconf.base.Metadata", "omegaconf.nodes.AnyNode", "omegaconf.nodes.StringNode", "omegaconf.nodes.IntegerNode",
     "omegaconf.nodes.FloatNode", "omegaconf.nodes.BooleanNode", "omegaconf.nodes.EnumNode",
     "pytorch_lightning.utilities.parsing.AttributeDict", "lightning.fabric.utilities.data.AttributeDict",
     "lightning_fabric.utilities.data.AttributeDict", "lightning.pytorch.utilities.parsing.AttributeDict")

_add("method of an allowed type, pickled by protocol 2+ as getattr(type, name); it only reads its arguments",
     "builtins:str.split", "builtins:str.lower", "builtins:str.upper", "builtins:str.strip", "builtins:str.join",
     "builtins:str.replace", "builtins:str.encode", "builtins:bytes.decode",
     "builtins:dict.fromkeys", "builtins:dict.get", "builtins:bytes.fromhex", "builtins:int.from_bytes",
     "builtins:float.fromhex", "collections:OrderedDict.fromkeys",
     "datetime:datetime.fromtimestamp", "datetime:datetime.fromisoformat", "datetime:date.fromordinal",
     "datetime:date.fromisoformat")
_add("the wrappers torch.compile puts around a module (a whole module saved after torch.compile): constructing "
     "them wires callbacks; compilation runs only when the module is called. The context they call must be "
     "allowed (argument contract)",
     "torch._dynamo.eval_frame.OptimizedModule", "torch._dynamo.eval_frame.OptimizeContext",
     "torch._dynamo.convert_frame.CatchErrorsWrapper", "torch._dynamo.convert_frame.ConvertFrame",
     "torch._dynamo.convert_frame.ConvertFrameAssert", "torch._dynamo.convert_frame.ConvertFrameBox",
     "torch._dynamo.repro.after_dynamo.WrapBackendDebug", "torch._dynamo.hooks.Hooks",
     "torch._TorchCompileInductorWrapper", "torch:_TorchCompileInductorWrapper.get_compiler_config")
_add("a learning-rate scheduler's own scaling function (a static method), pickled by protocol 2+ as "
     "getattr(Scheduler, name) in a whole scheduler saved with torch.save; pure arithmetic on its arguments",
     "torch.optim.lr_scheduler:CyclicLR._triangular_scale_fn", "torch.optim.lr_scheduler:CyclicLR._triangular2_scale_fn",
     "torch.optim.lr_scheduler:CyclicLR._exp_range_scale_fn", "torch.optim.swa_utils:SWALR._linear_anneal",
     "torch.optim.swa_utils:SWALR._cosine_anneal")
_add("zoneinfo's own reconstruction of a time zone, pickled as getattr(ZoneInfo, '_unpickle'); it reads the "
     "system time-zone database by key, as ZoneInfo(key) does", "zoneinfo:ZoneInfo._unpickle")

# (module pattern, name pattern, reason): the two families whose members no harvest can list. The module is
# matched as the pickle names it and the name is one identifier, so no entry matches an attribute path or a
# module reached through another. Every other library name is exact (HARVESTED, or the table above).
CLASS_PATTERNS: tuple[tuple[re.Pattern[str], re.Pattern[str], str], ...] = (
    (re.compile(r"__torch__(\.\w+)*"), re.compile(r"\w+"),
     "TorchScript class in a TorchScript archive: resolved by TorchScript's own type system from the archive's "
     "code, never imported as a Python module"),
    (re.compile(r"numpy\.dtypes"), re.compile(r"\w+DType"), "NumPy 2 dtype class (numpy.dtypes holds only these)"),
)


def _exact_table() -> dict[tuple[str, str], str]:
    table: dict[tuple[str, str], str] = {}
    try:
        from assay.scan._pickle.safe_harvested import HARVESTED
    except ImportError:  # the generated table is absent only in a broken checkout; the core still applies
        HARVESTED = {}
    for entries in (HARVESTED, SAFE):
        for key, reason in entries.items():
            module, sep, name = key.partition(":")
            if not sep:
                module, _, name = key.rpartition(".")
            table[(module, name)] = reason
    return table


_EXACT: dict[tuple[str, str], str] | None = None


def safe_reason(module: str, name: str) -> str | None:
    """Why ``module`` + ``name`` (as the pickle names them) is safe, or None when it is not on the allow-list."""
    global _EXACT
    if _EXACT is None:
        _EXACT = _exact_table()
    reason = _EXACT.get((module, name))
    if reason is not None:
        return reason
    if "." in name:  # families match a class named directly in its module, never an attribute path
        return None
    for module_pattern, name_pattern, why in CLASS_PATTERNS:
        if module_pattern.fullmatch(module) and name_pattern.fullmatch(name):
            return why
    return None
