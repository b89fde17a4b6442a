"""Drive Lifecycle's /v2 with the real tritonclient[http] (the Open Inference Protocol client of Triton).

Reads the PNG files and raw pixel files (uint8, HWC at the model geometry) of a folder, in name order, and
prints one JSON object: server and model readiness, server and model metadata, and each image's top-1
label and probabilities through three requests kinds: BYTES images in JSON (base64), BYTES images with the
binary tensor data extension (outputs binary too), UINT8 pixels with the binary extension.

Usage: oip_client.py --url HOST:PORT --model NAME --images DIR [--batch N]
"""

import argparse
import base64
import json
from pathlib import Path

import numpy as np
import tritonclient.http as httpclient


def infer(client, model, images, kind, batch):
    labels, probabilities = [], []
    for start in range(0, len(images), batch):
        chunk = images[start : start + batch]
        if kind == "pixels":
            data = np.stack(chunk).astype(np.uint8)
            tensor = httpclient.InferInput("pixels", list(data.shape), "UINT8")
            tensor.set_data_from_numpy(data, binary_data=True)
        else:
            binary = kind == "image-binary"
            # JSON carries strings: an image file travels base64-encoded; raw with the binary extension.
            elements = chunk if binary else [base64.b64encode(b).decode("ascii") for b in chunk]
            tensor = httpclient.InferInput("image", [len(chunk)], "BYTES")
            tensor.set_data_from_numpy(np.array(elements, dtype=np.object_), binary_data=binary)
        outputs = [
            httpclient.InferRequestedOutput("probabilities", binary_data=kind != "image-json"),
            httpclient.InferRequestedOutput("label", binary_data=kind != "image-json"),
        ]
        result = client.infer(model, [tensor], outputs=outputs, request_id=f"{kind}-{start}")
        assert result.get_response()["id"] == f"{kind}-{start}", result.get_response()
        probs = result.as_numpy("probabilities")
        assert probs.dtype == np.float32 and probs.shape == (len(chunk), probs.shape[1]), probs.shape
        probabilities.extend(probs.tolist())
        labels.extend(l.decode() if isinstance(l, bytes) else str(l) for l in result.as_numpy("label").tolist())
    return {"labels": labels, "probabilities": probabilities}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--images", required=True)
    parser.add_argument("--batch", type=int, default=10)
    args = parser.parse_args()

    folder = Path(args.images)
    pngs = [p.read_bytes() for p in sorted(folder.glob("*.png"))]
    client = httpclient.InferenceServerClient(url=args.url)
    metadata = client.get_model_metadata(args.model)
    _, height, width, channels = next(i["shape"] for i in metadata["inputs"] if i["name"] == "pixels")
    pixels = [np.frombuffer(p.read_bytes(), dtype=np.uint8).reshape(height, width, channels) for p in sorted(folder.glob("*.raw"))]

    report = {
        "live": client.is_server_live(),
        "ready": client.is_server_ready(),
        "model_ready": client.is_model_ready(args.model),
        "version_ready": client.is_model_ready(args.model, metadata["versions"][0]),
        "other_version_ready": client.is_model_ready(args.model, "999"),
        "server": client.get_server_metadata(),
        "metadata": metadata,
        "image-json": infer(client, args.model, pngs, "image-json", args.batch),
        "image-binary": infer(client, args.model, pngs, "image-binary", args.batch),
        "pixels": infer(client, args.model, pixels, "pixels", args.batch),
    }
    try:
        client.get_model_metadata(args.model, "999")
        report["other_version_error"] = None
    except Exception as err:  # tritonclient raises InferenceServerException with the server's message
        report["other_version_error"] = str(err)
    client.close()
    print(json.dumps(report))


if __name__ == "__main__":
    main()
