"""Lighter visual meshes for the camera (docs/arm.md has what they cost and change).

Headless MuJoCo renders with Mesa's software rasterizer, where a frame's cost is the robot's
triangle count, not its pixels. The meshes visual geoms draw (group 2, no contacts) are
decimated once per process (quadric error, Fast-Quadric-Mesh-Simplification) and put into the
robot's spec; collision geoms keep the meshes as shipped and every body keeps its inertial, so
the physics is the same.
"""
from __future__ import annotations

from functools import lru_cache

import fast_simplification
import mujoco
import numpy as np

VISUAL_GROUP = 2  # the Panda's and the 2F-85's visual class
MIN_FACES = 500  # smaller meshes cost little and lose shape fastest: kept as they are


def _visual_meshes(model: mujoco.MjModel) -> dict[int, bool]:
    """Meshes visual geoms draw -> whether a collision geom uses the same mesh too."""
    uses: dict[int, set[bool]] = {}
    for g in range(model.ngeom):
        if model.geom_type[g] == mujoco.mjtGeom.mjGEOM_MESH:
            uses.setdefault(int(model.geom_dataid[g]), set()).add(bool(model.geom_group[g] == VISUAL_GROUP))
    return {mesh: False in visual for mesh, visual in uses.items() if True in visual}


def _asset_frame_mesh(model: mujoco.MjModel, mesh: int) -> tuple[np.ndarray, np.ndarray]:
    """A compiled mesh's vertices and faces, back in its asset's frame (scaled, not recentred).

    Compiling moves a mesh to its own inertial frame (``mesh_pos``/``mesh_quat``) and the geom
    compensates; vertices given back in the asset's frame compile to the same placement.
    """
    va, vn = model.mesh_vertadr[mesh], model.mesh_vertnum[mesh]
    fa, fn = model.mesh_faceadr[mesh], model.mesh_facenum[mesh]
    rot = np.zeros(9)
    mujoco.mju_quat2Mat(rot, model.mesh_quat[mesh])
    verts = model.mesh_vert[va : va + vn].astype(np.float64) @ rot.reshape(3, 3).T + model.mesh_pos[mesh]
    return verts, model.mesh_face[fa : fa + fn].astype(np.int64)


def simplify(verts: np.ndarray, faces: np.ndarray, keep: float) -> tuple[np.ndarray, np.ndarray]:
    """About ``keep`` of the faces of one mesh.

    OBJ meshes arrive split per face corner (a vertex per normal/texcoord); welded first, or
    the decimation collapses a triangle soup into holes.
    """
    _, first, index = np.unique(np.round(verts, 7), axis=0, return_index=True, return_inverse=True)
    verts, faces = verts[first], index.reshape(-1)[faces]
    faces = faces[(faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 0] != faces[:, 2])]
    out_v, out_f = fast_simplification.simplify(verts.astype(np.float32), faces.astype(np.int32),
                                                target_reduction=1.0 - keep)
    return np.asarray(out_v, np.float64), np.asarray(out_f, np.int64)


Inertial = tuple[float, tuple[float, ...], tuple[float, ...], tuple[float, ...]]  # mass, ipos, iquat, diag


@lru_cache(maxsize=4)
def _simplified(keep: float) -> tuple[dict[str, tuple[bool, tuple[float, ...], tuple[int, ...]]],
                                      dict[str, Inertial]]:
    """For the robot as shipped: mesh name -> (shared with a collision geom, vertices, faces),
    and body name -> its compiled inertial."""
    from seal_nodes.core.arm.robot import panda_spec

    model = panda_spec().compile()
    meshes = {}
    for mesh, shared in sorted(_visual_meshes(model).items()):
        if model.mesh_facenum[mesh] >= MIN_FACES:
            verts, faces = simplify(*_asset_frame_mesh(model, mesh), keep)
            meshes[model.mesh(mesh).name] = (shared, tuple(verts.ravel()), tuple(faces.ravel()))
    inertials = {model.body(b).name: (float(model.body_mass[b]), tuple(model.body_ipos[b]),
                                      tuple(model.body_iquat[b]), tuple(model.body_inertia[b]))
                 for b in range(1, model.nbody)}
    return meshes, inertials


def lighten_visual_meshes(robot: mujoco.MjSpec, keep: float) -> int:
    """Give ``robot``'s visual geoms meshes with about ``keep`` of their faces.

    ``robot``: a ``panda_spec()`` before it is attached; ``keep`` >= 1 leaves it as it is. A mesh
    a collision geom also uses stays for that geom (its convex hull is what collides); the
    visual geoms get a lighter copy, ``<name>_visual``. Returns how many meshes were lightened.
    """
    if not 0.0 < keep:
        raise ValueError(f"mesh detail must be > 0, got {keep}")
    if keep >= 1.0:
        return 0
    meshes, inertials = _simplified(float(keep))
    # A body without an <inertial> takes its mass from its geoms, visual ones included (the
    # 2F-85's mount): its inertial is fixed at what the shipped meshes give, so nothing moves.
    for body in robot.bodies:
        if body.name in inertials and not body.explicitinertial:
            mass, ipos, iquat, inertia = inertials[body.name]
            body.explicitinertial = True
            body.mass, body.ipos, body.iquat, body.inertia = mass, list(ipos), list(iquat), list(inertia)
    for name, (shared, verts, faces) in meshes.items():
        if shared:
            mesh = robot.add_mesh(name=f"{name}_visual")
            for geom in robot.geoms:
                if geom.meshname == name and geom.group == VISUAL_GROUP:
                    geom.meshname = mesh.name
        else:
            mesh = robot.mesh(name)
            mesh.file = ""
            mesh.usernormal, mesh.userfacenormal, mesh.usertexcoord, mesh.userfacetexcoord = [], [], [], []
        mesh.scale = [1.0, 1.0, 1.0]  # the vertices are already scaled
        mesh.uservert, mesh.userface = list(verts), list(faces)
    return len(meshes)
