"""config/rsdfm.rviz is valid YAML, in the map frame, and shows topics the graph publishes."""
import yaml

from rsdfm_core.graph import config_dir, fleet_graph

GRAPH_TOPICS = {
    '/rsdfm/segmentation',
    '/rsdfm/instances',
    '/rsdfm/detections/markers',
    '/rsdfm/trajectories/markers',
}


def _displays(node):
    for d in node.get('Displays', []):
        yield d
        yield from _displays(d)


def test_rviz_config_shows_the_graph_outputs_in_map():
    graph = fleet_graph()
    assert graph.rviz_config == str(config_dir() / 'rsdfm.rviz')
    cfg = yaml.safe_load(open(graph.rviz_config))
    manager = cfg['Visualization Manager']
    assert manager['Global Options']['Fixed Frame'] == 'map'
    topics = {d['Topic']['Value'] for d in _displays(manager) if 'Topic' in d}
    assert GRAPH_TOPICS <= topics
    cameras = topics - GRAPH_TOPICS
    assert cameras and all(t.startswith(graph.namespaces[0] + '/camera/') for t in cameras)
    tf = [d for d in _displays(manager) if d['Class'] == 'rviz_default_plugins/TF']
    assert tf and tf[0]['Enabled'] and tf[0]['Frames']['All Enabled'], 'the drones on TF are shown'
