"""Export to ONNX: `to_onnx(model, path)` (also `model.export(path, format="onnx")`).

The `onnx` package is an optional extra (pip install lstmkit[onnx]); it is imported when an export
runs, so `import lstmkit` works without it.
"""

from lstmkit.export.onnx_export import build_onnx, to_onnx
from lstmkit.export.onnx_graph import ExportError
from lstmkit.models.files import register_file_functions

# Model.export finds the exporter here (models sit below export and cannot import it).
register_file_functions(export_onnx=to_onnx)

__all__ = ["ExportError", "build_onnx", "to_onnx"]
