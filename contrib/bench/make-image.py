#!/usr/bin/env python3
"""Write an OCI image layout with N gzip layers of random-ish text files.

Used by the benchmarks: content that compresses about 4:1 like real
binaries and text, not to nothing. Usage: make-image.py OUTDIR TOTAL_MB LAYERS
"""
import gzip, hashlib, io, json, os, random, sys, tarfile, time

out, total_mb, nlayers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.makedirs(f"{out}/blobs/sha256", exist_ok=True)
rng = random.Random(42)
words = [bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9))) for _ in range(4000)]


def blob(data):
    d = hashlib.sha256(data).hexdigest()
    with open(f"{out}/blobs/sha256/{d}", "wb") as f:
        f.write(data)
    return "sha256:" + d, len(data)


def text(n):
    parts, size = [], 0
    while size < n:
        w = rng.choice(words)
        parts.append(w)
        size += len(w) + 1
    return b" ".join(parts)[:n]


layers, diff_ids = [], []
per_layer = total_mb * 1024 * 1024 // nlayers
for i in range(nlayers):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        d = tarfile.TarInfo(f"layer{i}")
        d.type, d.mode, d.mtime = tarfile.DIRTYPE, 0o755, 1700000000
        t.addfile(d)
        written, j = 0, 0
        while written < per_layer:
            size = min(rng.choice([4096, 65536, 262144, 1048576]), per_layer - written)
            data = text(size)
            ti = tarfile.TarInfo(f"layer{i}/f{j:05d}")
            ti.size, ti.mode, ti.mtime = len(data), 0o644, 1700000000
            t.addfile(ti, io.BytesIO(data))
            written += size
            j += 1
    raw = buf.getvalue()
    diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
    gz = gzip.compress(raw, compresslevel=6, mtime=0)
    dg, sz = blob(gz)
    layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": dg, "size": sz})

config = {
    "architecture": "amd64", "os": "linux", "created": "2026-01-01T00:00:00Z",
    "config": {"Env": ["PATH=/usr/bin:/bin"], "Cmd": ["sh"]},
    "rootfs": {"type": "layers", "diff_ids": diff_ids},
    "history": [{"created": "2026-01-01T00:00:00Z", "created_by": f"bench layer {i}"} for i in range(nlayers)],
}
cdg, csz = blob(json.dumps(config).encode())
manifest = {
    "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cdg, "size": csz},
    "layers": layers,
}
mdg, msz = blob(json.dumps(manifest).encode())
with open(f"{out}/index.json", "w") as f:
    json.dump({"schemaVersion": 2, "manifests": [{"mediaType": manifest["mediaType"], "digest": mdg, "size": msz,
               "annotations": {"org.opencontainers.image.ref.name": "bench"}}]}, f)
with open(f"{out}/oci-layout", "w") as f:
    f.write('{"imageLayoutVersion":"1.0.0"}')
print(" ".join(l["digest"].split(":")[1] for l in layers))
