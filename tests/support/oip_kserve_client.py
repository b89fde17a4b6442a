"""Drive Lifecycle's /v2 with the KServe Python SDK's REST client (kserve.InferenceRESTClient, protocol v2).

Reads the PNG files of a folder, in name order, and prints one JSON object: server liveness and
readiness, model readiness, and each image's top-1 label and probabilities, sent as BYTES images with
the binary tensor data extension (the SDK's default) and answered as binary outputs.

Usage: oip_kserve_client.py --url http://HOST:PORT --model NAME --images DIR [--batch N]
"""

import argparse
import asyncio
import json
from pathlib import Path

import numpy as np
from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig
from kserve.protocol.infer_type import RequestedOutput


async def run(args):
    pngs = [p.read_bytes() for p in sorted(Path(args.images).glob("*.png"))]
    async with InferenceRESTClient(RESTConfig(protocol="v2", timeout=60)) as client:
        report = {
            "live": await client.is_server_live(args.url),
            "ready": await client.is_server_ready(args.url),
            "model_ready": await client.is_model_ready(args.url, args.model),
            "labels": [],
            "probabilities": [],
        }
        for start in range(0, len(pngs), args.batch):
            chunk = pngs[start : start + args.batch]
            tensor = InferInput("image", [len(chunk)], "BYTES")
            tensor.set_data_from_numpy(np.array(chunk, dtype=np.object_), binary_data=True)
            outputs = [RequestedOutput(name, parameters={"binary_data": True}) for name in ("probabilities", "label")]
            request = InferRequest(args.model, [tensor], request_id=f"kserve-{start}", request_outputs=outputs)
            response = await client.infer(args.url, request, model_name=args.model)
            assert response.id == f"kserve-{start}", response.id
            by_name = {o.name: o for o in response.outputs}
            probs = by_name["probabilities"].as_numpy()
            assert probs.dtype == np.float32 and probs.shape[0] == len(chunk), (probs.dtype, probs.shape)
            report["probabilities"].extend(probs.tolist())
            report["labels"].extend(l.decode() if isinstance(l, bytes) else str(l) for l in by_name["label"].as_numpy().tolist())
    print(json.dumps(report))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--images", required=True)
    parser.add_argument("--batch", type=int, default=10)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
