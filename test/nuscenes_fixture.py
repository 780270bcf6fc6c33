"""A tiny nuScenes-format dataset written by the tests: simulated frames in the devkit's layout.

Each drone is one camera channel (CAMERA_BOTTOM_id_<i>, as the multi-drone sets name theirs)
with its own ego pose per sample: the body pose (level, REP-103) and a calibrated_sensor for the
gimbal mount, so cam_to_map = ego_pose @ calibrated_sensor as in nuScenes. The dataset's ground
lies at `ground_z` (the importer must find it), boxes carry nuScenes categories (w, l, h sizes,
w-x-y-z quaternions), and a pedestrian the importer must leave out. The real devkit reads it.
"""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from rsdfm_core.geometry import level_body_pose, rot_to_quat, yaw_to_quat
from rsdfm_core.training.targets import visible_ids
from rsdfm_core.types import Frame

CATEGORY = {'car': 'vehicle.car', 'truck': 'vehicle.truck', 'bus': 'vehicle.bus.rigid'}
PEDESTRIAN = 'human.pedestrian.adult'


def _wxyz(R: np.ndarray) -> list[float]:
    x, y, z, w = rot_to_quat(R)
    return [float(w), float(x), float(y), float(z)]


def channel(index: int) -> str:
    return f'CAMERA_BOTTOM_id_{index}'


def write_nuscenes(frames: list[Frame], dataroot: Path, version: str = 'v1.0-mini',
                   scene: str = 'scene-0001', ground_z: float = 0.0) -> Path:
    """Write frames as one nuScenes scene; return dataroot."""
    tables: dict[str, list[dict]] = {t: [] for t in (
        'category', 'attribute', 'visibility', 'instance', 'sensor', 'calibrated_sensor',
        'ego_pose', 'log', 'scene', 'sample', 'sample_data', 'sample_annotation', 'map')}
    for label, name in [*CATEGORY.items(), ('pedestrian', PEDESTRIAN)]:
        tables['category'].append({'token': f'cat-{label}', 'name': name, 'description': ''})
    tables['visibility'].append({'token': '4', 'level': 'v80-100', 'description': ''})
    tables['log'].append({'token': 'log-0', 'logfile': '', 'vehicle': 'fleet',
                          'date_captured': '2026-12-01', 'location': 'simulated-town'})
    tables['map'].append({'token': 'map-0', 'log_tokens': ['log-0'], 'category': 'semantic_prior',
                          'filename': ''})
    agents = [v.agent_id for v in frames[0].views]
    shift = np.eye(4)
    shift[2, 3] = ground_z
    for i, agent in enumerate(agents):
        tables['sensor'].append({'token': f'sensor-{i}', 'channel': channel(i),
                                 'modality': 'camera'})
    mounts: dict[str, np.ndarray] = {}
    samples, instances = tables['sample'], {}
    last_ann: dict[int, dict] = {}
    last_sd: dict[str, dict] = {}
    for f in frames:
        stamp_us = f.stamp_ns // 1000
        token = f'sample-{f.index}'
        if samples:
            samples[-1]['next'] = token
        samples.append({'token': token, 'timestamp': stamp_us, 'scene_token': 'scene-0',
                        'prev': samples[-1]['token'] if samples else '', 'next': ''})
        for i, v in enumerate(f.views):
            body = shift @ level_body_pose(v.cam_to_map)
            mounts.setdefault(v.agent_id, np.linalg.inv(level_body_pose(v.cam_to_map))
                              @ v.cam_to_map)
            mount = mounts[v.agent_id]
            cs_token = f'cs-{i}'
            if f is frames[0]:
                tables['calibrated_sensor'].append({
                    'token': cs_token, 'sensor_token': f'sensor-{i}',
                    'translation': mount[:3, 3].tolist(), 'rotation': _wxyz(mount[:3, :3]),
                    'camera_intrinsic': np.asarray(v.K).tolist()})
            ep_token = f'ego-{f.index}-{i}'
            tables['ego_pose'].append({'token': ep_token, 'timestamp': stamp_us,
                                       'translation': body[:3, 3].tolist(),
                                       'rotation': _wxyz(body[:3, :3])})
            filename = f'samples/{channel(i)}/{scene}_{channel(i)}_{stamp_us}.jpg'
            path = dataroot / filename
            path.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(path), cv2.cvtColor(v.image, cv2.COLOR_RGB2BGR),
                        [cv2.IMWRITE_JPEG_QUALITY, 95])
            sd = {'token': f'sd-{f.index}-{i}', 'sample_token': token,
                  'ego_pose_token': ep_token, 'calibrated_sensor_token': cs_token,
                  'timestamp': stamp_us, 'fileformat': 'jpg', 'is_key_frame': True,
                  'height': int(v.image.shape[0]), 'width': int(v.image.shape[1]),
                  'filename': filename, 'prev': '', 'next': ''}
            if v.agent_id in last_sd:
                last_sd[v.agent_id]['next'] = sd['token']
                sd['prev'] = last_sd[v.agent_id]['token']
            last_sd[v.agent_id] = sd
            tables['sample_data'].append(sd)
        people = [(10_000 + f.index, 'pedestrian', (3.0, 4.0, 0.9), (0.6, 0.6, 1.8), 0.0)]
        seen = visible_ids(f.views, f.objects)     # datasets label what their sensors see
        boxes = [(o.track_id, o.label, (o.x, o.y, o.z), (o.width, o.length, o.height), o.yaw)
                 for o in f.objects if o.track_id in seen] + people
        for tid, label, centre, wlh, yaw in boxes:
            ann_token = f'ann-{f.index}-{tid}'
            inst = instances.setdefault(tid, {
                'token': f'inst-{tid}', 'category_token': f'cat-{label}', 'nbr_annotations': 0,
                'first_annotation_token': ann_token, 'last_annotation_token': ann_token})
            inst['nbr_annotations'] += 1
            inst['last_annotation_token'] = ann_token
            x, y, z, w = yaw_to_quat(yaw)
            ann = {'token': ann_token, 'sample_token': token, 'instance_token': inst['token'],
                   'visibility_token': '4', 'attribute_tokens': [],
                   'translation': [centre[0], centre[1], centre[2] + ground_z],
                   'size': list(wlh), 'rotation': [w, x, y, z], 'prev': '', 'next': '',
                   'num_lidar_pts': 0, 'num_radar_pts': 0}
            if tid in last_ann:
                last_ann[tid]['next'] = ann_token
                ann['prev'] = last_ann[tid]['token']
            last_ann[tid] = ann
            tables['sample_annotation'].append(ann)
    tables['instance'] = list(instances.values())
    tables['scene'].append({'token': 'scene-0', 'log_token': 'log-0', 'name': scene,
                            'description': 'simulated fleet', 'nbr_samples': len(samples),
                            'first_sample_token': samples[0]['token'],
                            'last_sample_token': samples[-1]['token']})
    (dataroot / version).mkdir(parents=True, exist_ok=True)
    for name, rows in tables.items():
        (dataroot / version / f'{name}.json').write_text(json.dumps(rows))
    return dataroot
