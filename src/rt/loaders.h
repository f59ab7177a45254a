/* Entry points of the model loaders. Each builds a vrt_graph in the IR
 * contract of ir.h:
 *   - g->inputs lists the real graph inputs (not initializers/constants),
 *     flagged VRT_VAL_INPUT, with dtype and dims (-1 + dim_names for dynamic);
 *   - constants (ONNX initializers, Constant nodes, TF.js weights) are values
 *     flagged VRT_VAL_CONST with data; loaders never emit Constant nodes;
 *   - every node's op is a vrt_op (ops.def); an op the IR does not know is a
 *     VRT_EUNSUPPORTED error naming the op type and the node;
 *   - attributes use ONNX names; opset-dependent forms are normalised to the
 *     newest opset's form (e.g. Squeeze/Unsqueeze/Reduce* axes, Split sizes,
 *     Pad pads, Clip min/max, Slice starts/ends become constant inputs);
 *   - g->outputs lists the graph outputs, flagged VRT_VAL_OUTPUT.
 * On failure they return <0 with vrt__err() set and *out untouched. */
#ifndef VRT_LOADERS_H
#define VRT_LOADERS_H

#include "ir.h"

/* ONNX (src/rt/onnx). The file variant mmaps the file and borrows raw_data
 * where alignment allows (the graph keeps the mapping). base_dir resolves
 * external data files; NULL forbids external data. */
int vrt__onnx_load_file(vrt_graph **out, const char *path);
int vrt__onnx_load_buffer(vrt_graph **out, const void *buf, size_t len, const char *base_dir);
/* Parse one serialized TensorProto (the .pb files of ONNX's node tests).
 * out->data and out->name are malloc'd and owned by the caller. */
int vrt__onnx_parse_tensor(const void *buf, size_t len, vrt_tensor *out);

/* TensorFlow.js graph model (src/rt/tfjs): model.json plus weight shards
 * named in its weightsManifest, resolved relative to the json's folder. */
int vrt__tfjs_load_file(vrt_graph **out, const char *model_json_path);
int vrt__tfjs_load_json(vrt_graph **out, const char *json, size_t len, const char *base_dir);

#endif
