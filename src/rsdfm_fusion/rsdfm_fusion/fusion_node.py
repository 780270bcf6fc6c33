"""fusion_node: fuse the BEV feature maps of every live drone into one map over the fusion region.

Drones are found at run time by topic (any */rsdfm/bev_feature of type rsdfm_msgs/BevFeature):
a drone that joins later is used, one that stays silent for `drone_timeout` is dropped (and
used again when it comes back). For each reference stamp the newest map of each live drone
within `window` of it is fused, once all live drones reported or `max_wait` passed. Maps from
another model, in another frame, or with a stamp far from the fleet's clock (`max_skew`, e.g.
a drone clock 2 s behind) are refused and counted on /diagnostics. Before any of that, every
message goes through rsdfm_core.validation.check_feature (sizes, payload length against its
header, codec, finite unit-quaternion poses, resolution, placement near the fusion region,
stamp not in the future or far past of this node's clock), so a malformed map is refused
before anything is decoded or allocated; its reason code is counted and logged once.

Anyone on the DDS domain can create drone topics, so admission (rsdfm_core.admission, which
holds the rules) bounds what strangers cost, after the checks above so malformed maps take no
place: a namespace allow-list (`allowed_namespaces`), at most `max_agents` agents (others are
refused, their topics left unsubscribed while no place is free), a per-agent rate limit
(`expected_rate_hz` x `rate_limit_factor`); and a drone silent for `agent_forget_timeout` is
forgotten: its subscription destroyed, its state dropped everywhere.

The scheduling (clocks, windows, waiting, liveness) is rsdfm_core.fusion_scheduler; this node
finds the topics, checks and decodes the messages, fuses and publishes. The fusion region is
the model's (stored with the weights) unless the region_* parameters override it.
"""
from __future__ import annotations

from rcl_interfaces.msg import ParameterDescriptor
from rclpy.exceptions import InvalidParameterTypeException, ParameterUninitializedException
from rclpy.node import Node
from rclpy.parameter import Parameter

from rsdfm_core.admission import Admission, AdmissionLimits, namespace_pattern
from rsdfm_core.fusion_scheduler import FusionScheduler
from rsdfm_core.geometry import BevGrid
from rsdfm_core.model.align import AlignSettings, SIGNAL_CHOICES, UNALIGNED_CHOICES
from rsdfm_core.model.engine import FUSION_PARTS
from rsdfm_core.regions import aim_point
from rsdfm_core.validation import check_feature, FeatureLimits
from rsdfm_msgs.msg import BevFeature, FusedBev
from rsdfm_ros.conversions import (
    bytes_to_uint8_array,
    ConversionError,
    feature_fields,
    fields_to_grid,
    grid_to_fields,
    ns_to_stamp,
    pose_to_matrix,
    stamp_to_ns,
)
from rsdfm_ros.diagnostics import NodeDiagnostics
from rsdfm_ros.node_support import check, declare, load_runtime, run_node, SettingError
from rsdfm_ros.qos import feature_qos

FEATURE_SUFFIX = '/rsdfm/bev_feature'
FEATURE_TYPE = 'rsdfm_msgs/msg/BevFeature'
MAX_REGION_CELLS = 4096     # per side of the fusion grid


class FusionNode(Node):

    def __init__(self, **options) -> None:
        super().__init__('fusion_node', **options)
        self.rt = load_runtime(self, FUSION_PARTS, default_engine='onnxruntime')
        self.region = self.declare_region()
        self.follow = declare(self, 'follow_agent', '',
                              'non-empty: centre the region where this drone looks')
        self.scheduler = self.declare_scheduler()
        self.admission = self.declare_admission()
        self.align, self.align_reference = self.declare_alignment()
        period = float(declare(self, 'discovery_period', 0.5,
                               's between scans of the graph for drones'))
        max_future = float(
            declare(
                self,
                'max_future',
                30.0,
                "s: maps stamped further ahead of this node's clock are refused",
            )
        )
        max_age = float(
            declare(
                self,
                'max_age',
                300.0,
                "s: maps stamped further behind this node's clock are "
                'refused (0 = no limit, e.g. to replay a bag without '
                '--restamp and without sim time)',
            )
        )
        margin = float(
            declare(
                self,
                'region_margin',
                64.0,
                'm: maps whose grid lies further outside the fusion '
                'region are refused (ignored with follow_agent)',
            )
        )
        check(period > 0, f'discovery_period must be > 0, got {period:g}')
        check(max_future > 0 and max_age >= 0 and margin >= 0,
              'max_future must be > 0, max_age and region_margin >= 0')
        self.limits = FeatureLimits(
            region=self.region,
            channels=int(self.rt.config['model']['img_channels']),
            region_margin=float('inf') if self.follow else margin,
            max_future_ns=int(max_future * 1e9),
            max_age_ns=int(max_age * 1e9),
        )
        self.topics: dict[str, object] = {}            # subscribed drone topic -> subscription
        self.align_counts: dict[str, int] = {}          # maps per alignment status, since start
        self.diag = NodeDiagnostics(self)
        self.pub = self.create_publisher(FusedBev, 'rsdfm/fused_bev', feature_qos())
        # task nodes of this process (the one-process ground station): handed each fused map
        # in memory; the topic is then published only while another process subscribes
        self.local_readers: list = []
        self.discover()
        self.create_timer(period, self.discover)
        self.create_timer(0.05, self.tick)

    def declare_alignment(self) -> tuple[AlignSettings | None, str | None]:
        """Return the map alignment settings (None: off) and the reference drone (None: first)."""
        mode = str(declare(self, 'align', 'off',
                           'undo pose errors between drones from the maps themselves before '
                           'fusing: off, keep (a map that cannot be aligned is fused as it came) '
                           'or drop (it is left out); corrections on /diagnostics as align.<id>'))
        reference = str(declare(self, 'align_reference', '',
                                'drone the others are aligned to (one with an exact pose, e.g. '
                                'RTK); empty = none: the maps meet where the drones agree on '
                                'average'))
        signal = str(declare(self, 'align_signal', 'decoded',
                             "what the alignment matches: decoded (each drone's map through "
                             'the fusion side alone, where the heads expect things) or maps '
                             '(the maps as sent)'))
        check(mode in ('off', *UNALIGNED_CHOICES),
              f'align must be off, keep or drop, got {mode!r}')
        check(signal in SIGNAL_CHOICES,
              f'align_signal must be one of {", ".join(SIGNAL_CHOICES)}, got {signal!r}')
        return ((None if mode == 'off' else AlignSettings(unaligned=mode, signal=signal)),
                reference or None)

    def declare_scheduler(self) -> FusionScheduler:
        """Return the frame scheduler of this node's window, max_wait, max_skew, drone_timeout."""
        window = float(declare(self, 'window', 0.05,
                               's: maps this close to the reference stamp are fused'))
        max_wait = float(declare(self, 'max_wait', 1.0,
                                 's of wall time to wait for all live drones'))
        max_skew = float(declare(self, 'max_skew', 1.0,
                                 's: maps this far from the fleet clock are refused'))
        drone_timeout = float(declare(self, 'drone_timeout', 3.0,
                                      's without a map before a drone is dropped'))
        window_ns, max_skew_ns = int(1e9 * window), int(1e9 * max_skew)
        check(window_ns >= 0 and max_wait > 0 and max_skew_ns > 0 and drone_timeout > 0,
              'window must be >= 0 and max_wait, max_skew, drone_timeout > 0')
        return FusionScheduler(window_ns, max_wait, max_skew_ns, drone_timeout)

    def declare_admission(self) -> Admission:
        """Admission with this node's agent, rate, namespace and forgetting limits."""
        max_agents = declare(self, 'max_agents', 32,
                             'drones fused at most; maps of further agents are refused')
        rate = float(declare(self, 'expected_rate_hz', 10.0, 'maps per second a drone sends'))
        factor = float(declare(self, 'rate_limit_factor', 3.0,
                               'maps beyond expected_rate_hz x this are dropped (per agent)'))
        patterns = declare_string_list(self, 'allowed_namespaces',
                                       'namespace patterns of the drones to subscribe, e.g. '
                                       "['/uav*']; empty = every namespace")
        forget = float(declare(self, 'agent_forget_timeout', 10.0,
                               's without a message before a drone topic is unsubscribed and '
                               'all state of the drone dropped (> drone_timeout)'))
        check(max_agents >= 1, f'max_agents must be >= 1, got {max_agents}')
        check(rate > 0 and factor >= 1,
              f'expected_rate_hz must be > 0 and rate_limit_factor >= 1, got {rate:g} and '
              f'{factor:g}')
        bad = [p for p in patterns if namespace_pattern(p) is None]
        check(not bad, f'allowed_namespaces must hold namespaces or patterns like /uav1 or '
                       f'/uav*, got {bad}')
        check(forget > self.scheduler.drone_timeout,
              f'agent_forget_timeout must be > drone_timeout ({self.scheduler.drone_timeout:g}),'
              f' got {forget:g}')
        return Admission(AdmissionLimits(max_agents, rate * factor, forget,
                                         tuple(namespace_pattern(p) for p in patterns)))

    def declare_region(self) -> BevGrid:
        """Return the fusion grid: the model's region (stored with the weights).

        Each region_* parameter set to non-zero overrides its centre x or y, its size (square)
        or its resolution.
        """
        model = self.rt.config['model']['region']
        cx = float(declare(self, 'region_center_x', 0.0,
                           "fusion region centre x in map (m); 0 = the model's region centre"))
        cy = float(declare(self, 'region_center_y', 0.0,
                           "fusion region centre y in map (m); 0 = the model's region centre"))
        size = float(declare(self, 'region_size', 0.0,
                             "side of a square fusion region (m); 0 = the model's region size"))
        res = float(declare(self, 'region_resolution', 0.0,
                            "fusion grid cell size (m); 0 = the model's region resolution"))
        check(size >= 0 and res >= 0, f'region_size {size:g} and region_resolution {res:g} '
                                      "must be >= 0 (0 = the model's region)")
        size_x, size_y = (size, size) if size else (float(model['size_x']), float(model['size_y']))
        res = res or float(model['resolution'])
        check(max(size_x, size_y) / res <= MAX_REGION_CELLS,
              f'region_size {size_x:g} x {size_y:g} m and region_resolution {res:g} m '
              f'must give at most {MAX_REGION_CELLS} cells per side')
        return BevGrid.centred(cx or float(model['cx']), cy or float(model['cy']),
                               size_x, size_y, res)

    # --- drones -------------------------------------------------------------------------
    def discover(self) -> None:
        """Forget silent drones, then subscribe to the new BevFeature topics admission allows.

        Only topics with a publisher count: not one left by the subscription just destroyed.
        """
        present = [topic for topic, types in self.get_topic_names_and_types()
                   if topic.endswith(FEATURE_SUFFIX) and FEATURE_TYPE in types
                   and self.count_publishers(topic) > 0]
        self.forget_silent(present)
        found = self.admission.discovered(present)
        for refusal in found.refusals:
            self.diag.refuse(refusal.reason, refusal.detail)
        for topic in found.subscribe:
            self.topics[topic] = self.create_subscription(
                BevFeature, topic,
                self.diag.counting_losses(topic, lambda msg, t=topic: self.on_feature(msg, t)),
                feature_qos())
            self.get_logger().info(f'found drone topic {topic}')
        self.diag.extra['agents_known'] = str(len(self.admission.agents))
        self.diag.extra['topics_subscribed'] = str(len(self.topics))
        self.diag.extra['topics_parked'] = str(self.admission.parked_topics)

    def forget_silent(self, present: list[str]) -> None:
        """Unsubscribe the topics and drop the agents silent for agent_forget_timeout.

        A topic that has never sent stays subscribed while its publisher is in `present`.
        """
        gone = self.admission.forget_silent(present)
        for topic in gone.topics:
            self.destroy_subscription(self.topics.pop(topic))
        for agent in gone.agents:
            self.scheduler.forget(agent)
        if gone.topics or gone.agents:
            self.get_logger().info(
                f'forgot {len(gone.topics)} drone topic(s) and {len(gone.agents)} agent(s) silent '
                f'for {self.admission.limits.forget_after:g} s: {(gone.topics + gone.agents)[:6]}')
        self.diag.extra['topics_forgotten'] = str(self.admission.topics_forgotten)
        self.diag.extra['agents_forgotten'] = str(self.admission.agents_forgotten)

    def new_drones_waiting(self) -> int:
        """Drone topics with a live publisher that have not delivered a map yet (just started)."""
        return sum(1 for t in self.admission.waiting_topics() if self.count_publishers(t) > 0)

    # --- input --------------------------------------------------------------------------
    def on_feature(self, msg: BevFeature, topic: str = '') -> None:
        self.diag.received_input(len(msg.payload))
        agent = msg.agent_id[:64] or '(unnamed)'
        self.admission.heard(topic, agent)
        refusal = check_feature(
            feature_fields(msg), self.limits, self.get_clock().now().nanoseconds
        )
        if refusal is not None:
            self.diag.refuse(refusal.reason, f'{refusal.detail} (on {topic})')
            return
        if msg.model_id != self.rt.model_id:
            self.diag.refuse('model_id', f'map from {agent} made by model {msg.model_id[:64]!r}, '
                                         f'this node runs {self.rt.model_id!r}')
            return
        if msg.header.frame_id not in ('map', '/map'):
            self.diag.refuse(
                'frame', f"map from {agent} in frame {msg.header.frame_id[:64]!r}, expected 'map'"
            )
            return
        refusal = self.admission.admit(agent, topic)
        if refusal is not None:
            self.diag.refuse(refusal.reason, f'{refusal.detail} (on {topic})')
            if not self.admission.subscribed(topic) and topic in self.topics:
                self.destroy_subscription(self.topics.pop(topic))     # parked: no place
            return
        refusal = self.scheduler.offer(agent, stamp_to_ns(msg.header.stamp), msg)
        if refusal is not None:
            self.diag.refuse(refusal.reason, refusal.detail)
            return
        self.tick()

    # --- fusion -------------------------------------------------------------------------
    def tick(self) -> None:
        """Log drones joining or dropped, then fuse the oldest frame the scheduler has ready.

        One frame per call (timer or map): the executor takes the queued maps in between, so a
        frame is never fused without maps this node has received but not yet taken.
        """
        for agent, live in self.scheduler.refresh_liveness():
            self.get_logger().info(f'drone {agent} ' + ('joined' if live else
                                   f'dropped: silent for {self.scheduler.drone_timeout:g} s'))
        self.diag.extra['live_agents'] = ','.join(self.scheduler.live_agents())
        self.diag.extra['dropped_agents'] = ','.join(self.scheduler.dropped_agents())
        waiting_new = self.new_drones_waiting() if self.scheduler.has_pending else 0
        frame = self.scheduler.next_ready(waiting_new)
        if frame is not None:
            self.fuse_and_publish(frame.stamp_ns, frame.maps)

    def fuse_and_publish(self, ref: int, members: dict[str, BevFeature]) -> None:
        from rsdfm_core.model.runtime import (
            decode_payload,
            EncodedMap,
            fused_to_payload,
            FusionDecoder,
            PayloadError,
        )

        started = self.diag.start()
        decoded, agents = [], []
        for agent, msg in sorted(members.items()):
            try:
                m = EncodedMap(
                    fields_to_grid(msg),
                    int(msg.channels),
                    msg.codec,
                    bytes(msg.payload),
                    int(msg.raw_bytes),
                )
                bev, valid = decode_payload(self.rt, m)
            except (PayloadError, ConversionError, ValueError, RuntimeError) as exc:
                self.diag.refuse('bad_payload', f'map from {agent}: {exc}')
                continue
            decoded.append((bev, valid, m.grid))
            agents.append(agent)
        if not decoded:
            return
        fused = FusionDecoder(self.rt, region=self.region_for(members), align=self.align,
                              reference=self.align_reference).fuse_maps(decoded, agents)
        if self.align is not None:
            self.report_alignment(fused.corrections)
        out = FusedBev()
        out.header.stamp, out.header.frame_id = ns_to_stamp(ref), 'map'
        out.grid_origin, out.resolution, out.rows, out.cols = grid_to_fields(fused.grid)
        out.channels = int(fused.features.shape[0])
        out.agents, out.model_id = agents, self.rt.model_id
        out.coverage = bytes_to_uint8_array(fused.coverage.tobytes())
        sent = 0
        if not self.local_readers or self.pub.get_subscription_count() > 0:
            payload = fused_to_payload(fused)
            out.payload = bytes_to_uint8_array(payload)
            self.pub.publish(out)
            sent = len(payload)
        for reader in self.local_readers:
            reader.deliver(out, fused)
        self.diag.extra['agents_fused_last'] = ','.join(agents)
        self.diag.output(ref, started, sent)

    def report_alignment(self, corrections: list) -> None:
        """Put the last frame's correction of every drone on /diagnostics (align.<id>)."""
        for key in [k for k in self.diag.extra if k.startswith('align.')]:
            del self.diag.extra[key]
        for c in corrections:
            self.diag.extra[f'align.{c.agent}'] = (
                f'{c.status} dx={c.dx:.2f} m dy={c.dy:.2f} m yaw={c.dyaw_deg:.2f} deg '
                f'agreement={c.agreement:.2f}')
            self.align_counts[c.status] = self.align_counts.get(c.status, 0) + 1
        for status, n in self.align_counts.items():
            self.diag.extra[f'alignments.{status}'] = str(n)

    def region_for(self, members: dict[str, BevFeature]) -> BevGrid:
        """Return the fusion grid: fixed, or centred where the followed drone's camera looks."""
        if not self.follow or self.follow not in members:
            return self.region
        x, y = aim_point(pose_to_matrix(members[self.follow].camera_pose))
        r = self.region
        return BevGrid.centred(float(x), float(y), r.cols * r.resolution, r.rows * r.resolution,
                               r.resolution)


def declare_string_list(node: Node, name: str, description: str) -> list[str]:
    """Declare a string-array parameter, empty by default, and return its value.

    rclpy cannot type an empty list, and [] in a parameters file leaves the parameter unset, so
    it is declared by its type and unset reads as [].
    """
    try:
        node.declare_parameter(name, Parameter.Type.STRING_ARRAY,
                               ParameterDescriptor(name=name, description=description))
    except InvalidParameterTypeException:
        raise SettingError(f'parameter {name} must be a list of strings ({description})') from None
    try:
        return list(node.get_parameter(name).value)
    except ParameterUninitializedException:
        return []


def main(args=None) -> int:
    return run_node(FusionNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
