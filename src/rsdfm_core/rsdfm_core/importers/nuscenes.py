"""Import a nuScenes-format dataset into rsdfm bags, read through the official nuscenes-devkit.

Several public multi-drone perception sets (UAV3D; CoPerception-UAVs' tool chain) publish the
nuScenes layout: tables in `<dataroot>/<version>/*.json`, images under `<dataroot>/samples/`.
Each camera channel becomes one drone namespace (`uav1`, `uav2`, ... in channel order), each
key-frame sample one frame. Poses: the dataset's global frame becomes `map` (ENU, z up), shifted
down so that the ground is z = 0 (the ground height is estimated from the boxes' bottoms or
given); a camera's pose is ego_pose @ calibrated_sensor, already the optical frame (x right,
y down, z forward). Boxes: the annotations of the sample, classes mapped onto rsdfm's (car,
truck, bus; other categories are counted and left out), instance tokens as track ids.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
import json
from pathlib import Path
import sys

import cv2
import numpy as np

from rsdfm_core.geometry import pose_matrix
from rsdfm_core.regions import aim_point, REGION_KEY, region_record, scene_region
from rsdfm_core.types import CameraView, Frame, LABELS, ObjectState

SOURCE_KEY = 'rsdfm.source'     # custom_data key: where an imported bag came from, class map
IGNORE = 'ignore'

# Dataset category -> rsdfm label. A category matches a rule if it equals it or starts with
# it followed by '.'; the longest rule wins. nuScenes' vehicle taxonomy, then the plain names
# that simulator-made sets use.
DEFAULT_CLASS_RULES: dict[str, str] = {
    'vehicle.car': 'car',
    'vehicle.emergency.police': 'car',
    'vehicle.emergency.ambulance': 'truck',
    'vehicle.truck': 'truck',
    'vehicle.construction': 'truck',
    'vehicle.trailer': 'truck',
    'vehicle.bus': 'bus',
    'car': 'car',
    'van': 'car',
    'truck': 'truck',
    'bus': 'bus',
}


class DatasetError(ValueError):
    """A dataset that cannot be imported as asked; the message names what is wrong."""


def parse_class_map(text: str | None) -> dict[str, str]:
    """'NAME=LABEL,...' (LABEL one of car, truck, bus, ignore) on top of the default rules."""
    rules = dict(DEFAULT_CLASS_RULES)
    for item in (text or '').split(','):
        if not item.strip():
            continue
        name, sep, label = item.partition('=')
        name, label = name.strip(), label.strip()
        if not sep or not name or label not in (*LABELS, IGNORE):
            raise DatasetError(f'--class-map wants NAME=LABEL items with LABEL one of '
                               f'{", ".join((*LABELS, IGNORE))}, got {item.strip()!r}')
        rules[name] = label
    return rules


def map_class(category: str, rules: dict[str, str]) -> str | None:
    """Return the rsdfm label of a dataset category, or None if it is left out."""
    best = max((r for r in rules if category == r or category.startswith(r + '.')),
               key=len, default=None)
    label = rules.get(best) if best is not None else None
    return None if label in (None, IGNORE) else label


@dataclass
class SceneImport:
    """What one imported scene holds; printed and stored in the bag's metadata."""

    scene: str
    bag: str
    frames: int = 0
    drones: dict[str, str] = field(default_factory=dict)          # namespace -> channel
    objects: Counter = field(default_factory=Counter)              # rsdfm label -> boxes
    classes: dict[str, list[str]] = field(default_factory=dict)    # rsdfm label -> categories
    left_out: Counter = field(default_factory=Counter)             # category -> boxes
    ground_z: float = 0.0
    ground_source: str = ''
    region: str = ''
    stamp_spread_ms: float = 0.0    # largest |camera stamp - sample stamp|

    def record(self, dataset: str, version: str) -> str:
        return json.dumps({'dataset': dataset, 'version': version, 'scene': self.scene,
                           'drones': self.drones, 'classes': self.classes,
                           'left_out': dict(self.left_out), 'ground_z': self.ground_z,
                           'ground_source': self.ground_source})


def open_dataset(dataroot: str | Path, version: str):
    """Return the devkit's NuScenes for dataroot/version; DatasetError names what is missing."""
    try:
        from nuscenes.nuscenes import NuScenes
    except ImportError as exc:
        raise DatasetError(f'nuscenes-devkit is not importable ({exc}); scripts/setup.sh '
                           'installs it') from None
    root = Path(dataroot)
    if not (root / version).is_dir():
        found = sorted(p.name for p in root.glob('v1.0*')) if root.is_dir() else []
        raise DatasetError(f'{root / version} does not exist (versions in {root}: '
                           f'{", ".join(found) or "none"})')
    try:
        return NuScenes(version=version, dataroot=str(root), verbose=False)
    except (AssertionError, KeyError, TypeError, ValueError, OSError) as exc:
        raise DatasetError(f'{root / version}: the devkit cannot read the tables '
                           f'({type(exc).__name__}: {exc})') from None


def camera_channels(nusc, wanted: list[str] | None) -> list[str]:
    """Return the camera channels to import, in name order (each becomes one drone)."""
    cameras = sorted(s['channel'] for s in nusc.sensor if s['modality'] == 'camera')
    if not cameras:
        raise DatasetError('the dataset has no camera sensor')
    if wanted:
        unknown = [c for c in wanted if c not in cameras]
        if unknown:
            raise DatasetError(f'no camera channel {", ".join(unknown)}; the dataset has '
                               f'{", ".join(cameras)}')
        return list(wanted)
    return cameras


def _pose(record: dict) -> np.ndarray:
    w, x, y, z = record['rotation']                     # nuScenes order: w, x, y, z
    return pose_matrix(record['translation'], (x, y, z, w))


def _samples(nusc, scene: dict) -> list[dict]:
    out, token = [], scene['first_sample_token']
    while token:
        sample = nusc.get('sample', token)
        out.append(sample)
        token = sample['next']
    return out


def estimate_ground_z(nusc, samples: list[dict]) -> float | None:
    """Median height of the boxes' bottoms over the scene (None without boxes)."""
    bottoms = [a['translation'][2] - a['size'][2] / 2
               for s in samples for a in (nusc.get('sample_annotation', t) for t in s['anns'])]
    return float(np.median(bottoms)) if bottoms else None


def scene_frames(nusc, samples: list[dict], channels: list[str], rules: dict[str, str],
                 track_ids: dict[str, int], ground_z: float, info: SceneImport,
                 dataroot: Path, images: bool = True) -> Iterator[Frame]:
    """Yield one Frame per key-frame sample (views of the channels it has, mapped boxes).

    images False: the views' images are left empty (None), for a pass over poses and boxes.
    """
    shift = np.eye(4)
    shift[2, 3] = -ground_z
    names = {c: f'uav{i + 1}' for i, c in enumerate(channels)}
    for index, sample in enumerate(samples):
        stamp_us = int(sample['timestamp'])
        views = []
        for channel in channels:
            token = sample['data'].get(channel)
            if token is None:
                continue
            sd = nusc.get('sample_data', token)
            cs = nusc.get('calibrated_sensor', sd['calibrated_sensor_token'])
            ep = nusc.get('ego_pose', sd['ego_pose_token'])
            path = dataroot / sd['filename']
            image = cv2.imread(str(path), cv2.IMREAD_COLOR) if images else None
            if images and image is None:
                raise DatasetError(f'sample {sample["token"]}: image {path} is missing or not '
                                   'an image')
            K = np.asarray(cs.get('camera_intrinsic') or [], dtype=np.float64)
            if K.shape != (3, 3) or not np.isfinite(K).all() or K[0, 0] <= 0 or K[1, 1] <= 0:
                raise DatasetError(f'calibrated_sensor {cs["token"]} ({channel}): '
                                   f'camera_intrinsic is not a 3x3 pinhole matrix: '
                                   f'{cs.get("camera_intrinsic")!r}')
            cam_to_map = shift @ _pose(ep) @ _pose(cs)
            rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB) if images else None
            views.append(CameraView(names[channel], rgb, K, cam_to_map))
            info.drones[names[channel]] = channel
            info.stamp_spread_ms = max(info.stamp_spread_ms,
                                       abs(int(sd['timestamp']) - stamp_us) / 1e3)
        objects = []
        for ann_token in sample['anns']:
            ann = nusc.get('sample_annotation', ann_token)
            category = ann['category_name']
            label = map_class(category, rules)
            if label is None:
                info.left_out[category] += 1
                continue
            box = nusc.get_box(ann_token)
            velocity = np.nan_to_num(nusc.box_velocity(ann_token)[:2])
            width, length, height = (float(v) for v in box.wlh)
            tid = track_ids.setdefault(ann['instance_token'], len(track_ids) + 1)
            objects.append(ObjectState(tid, label, float(box.center[0]), float(box.center[1]),
                                       float(box.center[2]) - ground_z, length, width, height,
                                       float(box.orientation.yaw_pitch_roll[0]),
                                       float(velocity[0]), float(velocity[1])))
            info.objects[label] += 1
            if category not in info.classes.setdefault(label, []):
                info.classes[label].append(category)
        if views:
            info.frames += 1
            yield Frame(index, stamp_us * 1000, views, objects)


def import_nuscenes(dataroot: str | Path, version: str, out: str | Path,
                    scenes: list[str] | None = None, channels: list[str] | None = None,
                    class_map: str | None = None, ground_z: float | None = None,
                    resolution: float = 1.0, image_format: str = 'jpeg',
                    log: Callable[[str], None] | None = None) -> list[SceneImport]:
    """Write one bag per scene to out/<scene name>; return what each holds.

    ground_z None: estimated per scene from the boxes' bottoms. The region of each bag is the
    map-aligned rectangle around its boxes and the cameras' aim points (regions.scene_region),
    at `resolution` metres per cell, recorded in the bag's metadata.
    """
    say = log or (lambda text: print(text, file=sys.stderr, flush=True))
    rules = parse_class_map(class_map)
    nusc = open_dataset(dataroot, version)
    chans = camera_channels(nusc, channels)
    by_name = {s['name']: s for s in nusc.scene}
    if scenes:
        unknown = [s for s in scenes if s not in by_name]
        if unknown:
            raise DatasetError(f'no scene {", ".join(unknown)} in {version}; it has '
                               f'{", ".join(sorted(by_name)[:20])}')
    names = list(scenes) if scenes else sorted(by_name)
    out = Path(out)
    taken = [n for n in names if (out / n).exists()]
    if taken:
        raise DatasetError(f'{out / taken[0]} already exists (one bag per scene goes to '
                           f'--out/<scene>)')
    out.mkdir(parents=True, exist_ok=True)
    track_ids: dict[str, int] = {}
    results = []
    for name in names:
        try:
            results.append(_import_scene(nusc, by_name[name], version, chans, rules, track_ids,
                                         ground_z, resolution, image_format, out,
                                         Path(dataroot), say))
        except (KeyError, TypeError, IndexError) as exc:
            raise DatasetError(f'scene {name}: a table record lacks what nuScenes defines '
                               f'({type(exc).__name__}: {exc})') from None
    return results


def _import_scene(nusc, scene: dict, version: str, chans: list[str], rules: dict[str, str],
                  track_ids: dict[str, int], ground_z: float | None, resolution: float,
                  image_format: str, out: Path, dataroot: Path,
                  say: Callable[[str], None]) -> SceneImport:
    """Write one scene's bag; return what it holds."""
    from rsdfm_core.bag import write_bag
    from rsdfm_core.bag.writer import CameraStream
    name = scene['name']
    samples = _samples(nusc, scene)
    info = SceneImport(name, str(out / name))
    if ground_z is None:
        est = estimate_ground_z(nusc, samples)
        info.ground_z = est if est is not None else 0.0
        info.ground_source = ("median of the boxes' bottoms" if est is not None
                              else 'no boxes: 0')
    else:
        info.ground_z, info.ground_source = float(ground_z), 'given'
    # A pass over poses and boxes (no images) fills info and places the region, as the bag's
    # metadata comes first; then the frames stream into the bag with their images.
    dry = list(scene_frames(nusc, samples, chans, rules, track_ids, info.ground_z, info,
                            dataroot, images=False))
    if not dry:
        raise DatasetError(f'scene {name} has no key frame with a camera of '
                           f'{", ".join(chans)}')
    points = [[o.x, o.y] for f in dry for o in f.objects]
    points += [aim_point(v.cam_to_map) for f in dry for v in f.views]
    grid = scene_region(np.array(points), resolution)
    info.region = region_record(grid)
    frames = scene_frames(nusc, samples, chans, rules, track_ids, info.ground_z,
                          SceneImport(name, info.bag), dataroot)   # info is filled already
    write_bag(out / name, frames, progress=True, total=len(dry),
              stream=CameraStream(image_format, jpeg_quality=95),
              custom_data={REGION_KEY: info.region,
                           SOURCE_KEY: info.record('nuscenes', version)})
    say(f'import: scene {name}: {info.frames} frames, drones '
        + ', '.join(f'{ns}={ch}' for ns, ch in info.drones.items())
        + f', boxes {dict(info.objects)}, left out {dict(info.left_out) or "none"}, '
        f'ground z {info.ground_z:.2f} m ({info.ground_source}), region {info.region}, '
        f'camera stamps within {info.stamp_spread_ms:.0f} ms of the sample -> {info.bag}')
    if info.stamp_spread_ms > 50:
        say(f'import: scene {name}: the cameras were captured up to '
            f'{info.stamp_spread_ms:.0f} ms from their sample; the bag stamps every view '
            'with the sample time, which the boxes belong to')
    return info
