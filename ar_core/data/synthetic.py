"""SyntheticMotion: a seeded toy action data set whose class is visible only in motion.

Each clip shows a crowd of textured shapes (discs with a stripe, marked squares, arrow-like triangles;
random colours, sizes, positions and orientations) that all move in the class's direction at their own
speeds, or all rotate the class's way, over a random static background, with small distractor shapes
drifting and turning slowly on top. Every class draws its shapes, colours and positions from the same
distributions (frame 0 is the same image for every class given the seed) and positions wrap around the
frame (a torus), so no single frame tells the class apart. Motion is defined per SECOND, so rendering at
30 fps and keeping every 12th frame gives the same frames as rendering at 2.5 fps.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from .transforms import normalize, to_float_clip

MOTION_CLASSES = (
    "move right", "move left", "move up", "move down",
    "rotate clockwise", "rotate counter-clockwise", "move up-right", "move down-left",
)
FIXED_SUB_BITS = 4  # cv2 draws with 1/16 pixel precision
# Per class: unit velocity (x right, y down, as on screen) and turning direction (+1: clockwise on screen).
_MOTIONS = {
    "move right": (1.0, 0.0, 0), "move left": (-1.0, 0.0, 0), "move up": (0.0, -1.0, 0),
    "move down": (0.0, 1.0, 0), "rotate clockwise": (0.0, 0.0, 1), "rotate counter-clockwise": (0.0, 0.0, -1),
    "move up-right": (0.7071, -0.7071, 0), "move down-left": (-0.7071, 0.7071, 0),
}
SHAPES = ("disc", "square", "triangle")
SPEED = (0.15, 0.3)  # movers, in frame sizes per second
TURN = (100.0, 200.0)  # movers, in degrees per second
DRIFT, DRIFT_TURN = 0.08, 30.0  # distractors' largest speed and turn rate
# Shapes making the class motion, at least and at most, and their radii: X3D pools globally, so the
# moving surface must cover most of the frame for it to learn in a few hundred steps.
MOVERS = (6, 9)
MAIN_RADIUS, DISTRACTOR_RADIUS = (0.2, 0.3), (0.06, 0.12)  # in frame sizes
DISTRACTORS = (1, 3)  # drawn on top of the movers, at least and at most
BACKGROUND = (0, 256)  # range of the background's coarse colour blobs
TEXTURE = 6.0  # std of the background's static fine texture, in 0..255 grey levels
# Shapes carry a texture of their own: a flat colour shows motion only at its edges, a textured
# surface shows it everywhere, which is what lets X3D pick the motion up quickly.
SHAPE_TEXTURE = 60.0


@dataclass(frozen=True)
class _Shape:
    sprite: np.ndarray  # (n, n, 3) float32: the textured shape at angle 0, centred
    alpha: np.ndarray  # (n, n, 1) float32 coverage in [0, 1]
    x: float
    y: float
    angle: float  # degrees, clockwise on screen
    vx: float  # pixels per second
    vy: float
    turn: float  # degrees per second

    def at(self, t: float, size: int) -> tuple[float, float, float]:
        """Centre (wrapped into the frame) and angle at time t seconds."""
        return (self.x + self.vx * t) % size, (self.y + self.vy * t) % size, self.angle + self.turn * t

    def draw(self, image: np.ndarray, t: float) -> None:
        """Blend the shape at time t into the float image, with the copies that wrap around the edges."""
        size = image.shape[0]
        x, y, angle = self.at(t, size)
        centre, reach = (self.sprite.shape[0] - 1) / 2, self.sprite.shape[0] / 2
        for cx in (x - size, x, x + size):
            for cy in (y - size, y, y + size):
                left, top = max(int(cx - reach), 0), max(int(cy - reach), 0)
                right, bottom = min(int(cx + reach) + 2, size), min(int(cy + reach) + 2, size)
                if left >= right or top >= bottom:
                    continue
                # Warp only into the shape's box; cv2 turns positive angles counter-clockwise, ours clockwise.
                matrix = cv2.getRotationMatrix2D((centre, centre), -angle, 1.0)
                matrix[:, 2] += (cx - centre - left, cy - centre - top)
                box = (right - left, bottom - top)
                colour = cv2.warpAffine(self.sprite, matrix, box, flags=cv2.INTER_LINEAR)
                alpha = cv2.warpAffine(self.alpha, matrix, box, flags=cv2.INTER_LINEAR)[..., None]
                region = image[top:bottom, left:right]
                region *= 1 - alpha
                region += alpha * colour


def _sprite(kind: str, radius: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A textured shape pointing along +x; its mark (stripe, corner dot or sharp tip) shows its orientation."""
    n = 2 * int(np.ceil(radius)) + 3
    centre = np.array([(n - 1) / 2, (n - 1) / 2])
    colour = rng.uniform(0, 256, 3)
    blobs = cv2.resize(rng.normal(0, SHAPE_TEXTURE, (4, 4, 3)).astype(np.float32), (n, n),
                       interpolation=cv2.INTER_CUBIC)
    sprite = np.clip(colour + blobs, 0, 255).astype(np.uint8)
    mask = np.zeros((n, n), np.uint8)
    mark = tuple(int(255 - c) for c in colour)
    draw = dict(lineType=cv2.LINE_AA, shift=FIXED_SUB_BITS)
    if kind == "disc":
        cv2.circle(mask, tuple(_fixed(centre)), int(radius * (1 << FIXED_SUB_BITS)), 255, -1, **draw)
        cv2.line(sprite, tuple(_fixed(centre)), tuple(_fixed(centre + [0.95 * radius, 0])), mark,
                 max(1, round(radius / 3)), **draw)
    else:
        corner_angles = (45, 135, 225, 315) if kind == "square" else (0, 145, 215)
        corners = [centre + radius * np.array([np.cos(np.deg2rad(a)), np.sin(np.deg2rad(a))]) for a in corner_angles]
        cv2.fillPoly(mask, [_fixed(np.array(corners))], 255, **draw)
        if kind == "square":
            cv2.circle(sprite, tuple(_fixed(centre + 0.5 * (corners[0] - centre))),
                       int(radius / 3 * (1 << FIXED_SUB_BITS)), mark, -1, **draw)
    return sprite.astype(np.float32), (mask.astype(np.float32) / 255)[..., None]


def _random_shape(rng: np.random.Generator, size: int, radius: tuple[float, float]) -> dict:
    sprite, alpha = _sprite(SHAPES[rng.integers(len(SHAPES))], rng.uniform(*radius) * size, rng)
    return dict(sprite=sprite, alpha=alpha, x=rng.uniform(0, size), y=rng.uniform(0, size),
                angle=rng.uniform(0, 360))


def _scene(label: int, size: int, rng: np.random.Generator) -> tuple[np.ndarray, list[_Shape]]:
    """The static background and the shapes in drawing order: the movers, then the distractors."""
    coarse = rng.integers(*BACKGROUND, (4, 4, 3), dtype=np.uint8)
    background = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    background += rng.normal(0, TEXTURE, (size, size, 3))  # fine static texture, not per-frame noise
    background = np.clip(background, 0, 255)

    shapes = []
    dx, dy, turn_sign = _MOTIONS[MOTION_CLASSES[label]]
    for _ in range(rng.integers(MOVERS[0], MOVERS[1] + 1)):
        speed, turn = rng.uniform(*SPEED) * size, rng.uniform(*TURN)
        shapes.append(_Shape(**_random_shape(rng, size, MAIN_RADIUS), vx=dx * speed, vy=dy * speed,
                             turn=turn_sign * turn))
    for _ in range(rng.integers(DISTRACTORS[0], DISTRACTORS[1] + 1)):
        heading, speed = rng.uniform(0, 2 * np.pi), rng.uniform(0, DRIFT) * size
        shapes.append(_Shape(**_random_shape(rng, size, DISTRACTOR_RADIUS), vx=speed * np.cos(heading),
                             vy=speed * np.sin(heading), turn=rng.uniform(-DRIFT_TURN, DRIFT_TURN)))
    return background, shapes


def _fixed(points: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(points) * (1 << FIXED_SUB_BITS)).astype(np.int32)


def render_motion_frames(label: int, num_frames: int, size: int, fps: float, seed: int,
                         noise: float = 0.0) -> np.ndarray:
    """Frames (T, size, size, 3) uint8 RGB of class `label` (index into MOTION_CLASSES) at times i / fps.

    The scene depends on `seed` only; `noise` adds per-frame Gaussian pixel noise (std, in [0, 1] units).
    """
    if not 0 <= label < len(MOTION_CLASSES):
        raise ValueError(f"label {label} out of range: {len(MOTION_CLASSES)} motion classes")
    if num_frames < 1 or size < 8 or fps <= 0:
        raise ValueError(f"need num_frames >= 1, size >= 8 and fps > 0, got {num_frames}, {size}, {fps}")
    rng = np.random.default_rng(seed)
    background, shapes = _scene(label, size, rng)
    frames = np.empty((num_frames, size, size, 3), np.uint8)
    for i in range(num_frames):
        image = background.copy()
        for shape in shapes:
            shape.draw(image, i / fps)
        frames[i] = np.clip(np.round(image), 0, 255)
    if noise > 0:
        jitter = np.random.default_rng([seed, num_frames]).normal(0, noise * 255, frames.shape)
        frames = np.clip(frames + jitter, 0, 255).astype(np.uint8)
    return frames


class SyntheticMotion(Dataset):
    """`num_samples` clips, label = index % num_classes (balanced), each rendered deterministically from (seed, index).

    Returns (clip, label): clip float32 (3, frames, size, size) normalised with mean/std. A clip spans
    `clip_seconds` (1.6 s: X3D-XS's 4 frames, every 12th at 30 fps), whatever `frames` is.
    """

    def __init__(self, num_samples: int, num_classes: int = 4, frames: int = 4, size: int = 64, seed: int = 123,
                 mean: Sequence[float] = (0.45, 0.45, 0.45), std: Sequence[float] = (0.225, 0.225, 0.225),
                 noise: float = 0.01, clip_seconds: float = 1.6):
        if not 2 <= num_classes <= len(MOTION_CLASSES):
            raise ValueError(f"num_classes must be between 2 and {len(MOTION_CLASSES)}, got {num_classes}")
        if num_samples < 1:
            raise ValueError(f"num_samples must be positive, got {num_samples}")
        self.num_samples, self.frames, self.size, self.seed = num_samples, frames, size, seed
        self.mean, self.std, self.noise, self.clip_seconds = tuple(mean), tuple(std), noise, clip_seconds
        self.classes: list[str] = list(MOTION_CLASSES[:num_classes])

    def __len__(self) -> int:
        return self.num_samples

    def sample_seed(self, index: int) -> int:
        return int(np.random.SeedSequence([self.seed, index]).generate_state(1)[0])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        if not 0 <= index < self.num_samples:
            raise IndexError(f"index {index} out of range for {self.num_samples} samples")
        label = index % len(self.classes)
        frames = render_motion_frames(label, self.frames, self.size, fps=self.frames / self.clip_seconds,
                                      seed=self.sample_seed(index), noise=self.noise)
        return normalize(to_float_clip(frames), self.mean, self.std), label
