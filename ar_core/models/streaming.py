"""Continual X3D: one prediction per frame over the weights of a clip-trained X3D network.

After Hedegaard & Iosifidis, "Continual 3D Convolutional Neural Networks for Real-time Processing of Videos"
(ECCV 2022, CoX3D). Every temporal operator keeps, as state, the inputs it still needs, so a step computes the
newest frame only:

    stem and block temporal convs  state: their last k-1 inputs; a step convolves them with the new one,
                                   without temporal padding, giving the output of the window's centre frame
    residual shortcuts             delayed by the conv's (k-1)/2 frames, to stay aligned with the branch
    squeeze-excitation             squeezes each frame spatially (no temporal pooling), as CoX3D does
    head's temporal pool           a sliding average over the last `pool_frames` positions

Warm-up policy "zeros, then discard": every state starts as zeros (the clip model's zero temporal padding,
at the start of the stream only) and the first `warmup_frames` = receptive_field - 1 steps give no output;
from then on an output depends only on the `receptive_field` frames it covers, never on the initial state.

`StreamingX3D.forward(frame, *states) -> (probabilities, *new_states)` is the one, pure implementation (what
exports run); `step(frames)` keeps the states for a caller and is built on it.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .metadata import ModelMetadata, StreamInfo
from .x3d import X3D, Head, ResBlock, Stem

Shape = tuple[int, int, int, int]  # a state without its batch axis: (channels, frames, height, width)


def to_streaming(network: nn.Module, pool_frames: int | None = None) -> "StreamingX3D":
    """A StreamingX3D over `network`'s own modules (no copy), in eval mode (which puts `network` in eval mode).

    pool_frames: frames the head's sliding average covers (default: the network's clip length, spec.frames;
        CoX3D's best Kinetics figure uses 64).
    """
    if not isinstance(network, X3D):
        from .registry import MODEL_SPECS

        title = getattr(getattr(network, "spec", None), "title", type(network).__name__)
        raise ValueError(f"stream inference needs a model with a continual form "
                         f"({', '.join(n for n, s in MODEL_SPECS.items() if s.streaming)}); {title} has none")
    pool_frames = network.spec.frames if pool_frames is None else pool_frames
    if isinstance(pool_frames, bool) or not isinstance(pool_frames, int) or pool_frames < 1:
        raise ValueError(f"pool_frames must be an integer >= 1, got {pool_frames!r}")
    return StreamingX3D(network, pool_frames).eval()


def stream_metadata(metadata: ModelMetadata, streaming: "StreamingX3D") -> ModelMetadata:
    """`metadata` of a clip model, turned into that of its stream step at the metadata's crop."""
    shapes = streaming.state_shapes(metadata.crop, metadata.crop)
    info = StreamInfo(streaming.pool_frames, streaming.warmup_frames, streaming.receptive_field,
                      streaming.state_names(), shapes)
    return metadata.replace(inference="stream", stream=info)


def _check_temporal(conv: nn.Conv3d, where: str) -> int:
    """The temporal kernel of `conv`, which must be odd with 'same' zero padding and stride 1."""
    k, pad, stride = conv.kernel_size[0], conv.padding[0], conv.stride[0]
    if k < 3 or k % 2 == 0 or pad != k // 2 or stride != 1 or conv.dilation[0] != 1:
        raise ValueError(f"{where}: temporal kernel {k}, padding {pad}, stride {stride} cannot run continually "
                         f"(an odd kernel >= 3 with padding k//2 and stride 1 can)")
    return k


def _window_conv(conv: nn.Conv3d, window: torch.Tensor) -> torch.Tensor:
    """`conv` over a window of exactly k frames: spatial padding kept, temporal padding dropped -> 1 frame."""
    return F.conv3d(window, conv.weight, conv.bias, conv.stride, (0, *conv.padding[1:]), conv.dilation,
                    conv.groups)


def _conv_size(size: int, conv: nn.Conv3d, axis: int) -> int:
    return (size + 2 * conv.padding[axis] - conv.kernel_size[axis]) // conv.stride[axis] + 1


class ContinualStem(nn.Module):
    """Stem: per-frame spatial conv, then the temporal conv over its last k outputs. State: k-1 frames."""

    def __init__(self, stem: Stem, where: str):
        super().__init__()
        self.stem = stem
        self.kernel = _check_temporal(stem.conv, where)

    def state_shapes(self, height: int, width: int) -> tuple[list[Shape], tuple[int, int]]:
        conv_xy = self.stem.conv_xy
        size = (_conv_size(height, conv_xy, 1), _conv_size(width, conv_xy, 2))
        return [(conv_xy.out_channels, self.kernel - 1, *size)], size

    def forward(self, x: torch.Tensor, window_state: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        window = torch.cat([window_state, self.stem.conv_xy(x)], dim=2)
        x = self.stem.relu(self.stem.bn(_window_conv(self.stem.conv, window)))
        return x, [window[:, :, 1:]]


class ContinualBlock(nn.Module):
    """Residual block: the bottleneck's temporal conv over its last k inputs, the shortcut delayed (k-1)/2 frames.

    State: the conv's k-1 previous inputs and the (k-1)/2 previous shortcut values.
    """

    def __init__(self, block: ResBlock, where: str):
        super().__init__()
        self.block = block
        self.kernel = _check_temporal(block.branch2.b, where)
        self.delay = (self.kernel - 1) // 2  # the conv's output is its window's centre frame

    def state_shapes(self, height: int, width: int) -> tuple[list[Shape], tuple[int, int]]:
        conv = self.block.branch2.b
        size = (_conv_size(height, conv, 1), _conv_size(width, conv, 2))
        return [(conv.in_channels, self.kernel - 1, height, width),
                (self.block.branch2.c.out_channels, self.delay, *size)], size

    def forward(self, x: torch.Tensor, window_state: torch.Tensor,
                shortcut_state: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        branch = self.block.branch2
        window = torch.cat([window_state, F.relu(branch.a_bn(branch.a(x)))], dim=2)
        y = branch.b_bn(_window_conv(branch.b, window))
        if branch.se is not None:
            y = branch.se(y)  # one frame: SqueezeExcitation's global pool squeezes it spatially only
        y = branch.c_bn(branch.c(F.silu(y)))
        shortcut = x if self.block.branch1 is None else self.block.branch1_bn(self.block.branch1(x))
        delayed = torch.cat([shortcut_state, shortcut], dim=2)
        return F.relu(delayed[:, :, :1] + y), [window[:, :, 1:], delayed[:, :, 1:]]


class ContinualHead(nn.Module):
    """conv_5, the train-crop spatial pool, a sliding temporal average over `pool_frames`, then as Head in eval
    mode: lin_5, the projection and a softmax at each spatial position, averaged. State: pool_frames-1 positions."""

    def __init__(self, head: Head, pool_frames: int):
        super().__init__()
        self.head = head
        self.pool_frames = pool_frames

    def _pool_kernel(self, height: int, width: int) -> tuple[int, int]:
        # As Head: a map smaller than the train crop's pools over all it has.
        return min(self.head.pool_size[1], height), min(self.head.pool_size[2], width)

    def state_shapes(self, height: int, width: int) -> tuple[list[Shape], tuple[int, int]]:
        if self.pool_frames == 1:
            return [], (1, 1)
        kernel = self._pool_kernel(height, width)
        return [(self.head.conv_5.out_channels, self.pool_frames - 1, height - kernel[0] + 1,
                 width - kernel[1] + 1)], (1, 1)

    def forward(self, x: torch.Tensor, *pool_state: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        head = self.head
        x = F.relu(head.conv_5_bn(head.conv_5(x)))
        x = F.avg_pool3d(x, (1, *self._pool_kernel(*x.shape[3:])), stride=1)
        new_state = []
        if pool_state:
            window = torch.cat([pool_state[0], x], dim=2)
            x, new_state = window.mean(dim=2, keepdim=True), [window[:, :, 1:]]
        x = F.relu(head.lin_5(x))
        x = head.projection(x.permute(0, 2, 3, 4, 1)).softmax(dim=-1)  # (B, 1, h, w, classes)
        return x.mean(dim=(1, 2, 3)), new_state


class StreamingX3D(nn.Module):
    """Continual X3D (CoX3D, Hedegaard & Iosifidis, ECCV 2022) over an X3D network's modules; see the module doc.

    forward(frame, *states) -> (probabilities, *new_states): pure; frame (B, 3, H, W) normalised as the clip
        model's input, states as initial_state(B, H, W) or a previous forward's; probabilities (B, classes).
    step(frames) -> probabilities or None: the same with the states kept here, None for the first
        `warmup_frames` steps after a reset. A frame of another batch or size restarts the states
        (`restarts` counts those) instead of failing.
    """

    def __init__(self, network: X3D, pool_frames: int):
        super().__init__()
        self.spec, self.num_classes, self.pool_frames = network.spec, network.num_classes, pool_frames
        self.layers = nn.ModuleList([ContinualStem(network.s1.pathway0_stem, "s1.pathway0_stem.conv")])
        self.names = [["s1.pathway0_stem.conv"]]  # per layer, the names of its states
        for stage_name in ("s2", "s3", "s4", "s5"):
            for block_name, block in getattr(network, stage_name).named_children():
                where = f"{stage_name}.{block_name}"
                self.layers.append(ContinualBlock(block, f"{where}.branch2.b"))
                self.names.append([f"{where}.branch2.b", f"{where}.shortcut"])
        self.layers.append(ContinualHead(network.head, pool_frames))
        self.names.append(["head.pool"] if pool_frames > 1 else [])
        backbone = sum(layer.kernel - 1 for layer in self.layers[:-1])
        self.receptive_field = 1 + backbone + pool_frames - 1  # frames influencing one output
        self.warmup_frames = self.receptive_field - 1  # steps whose output still sees the zero initial state
        self.restarts = 0  # state restarts forced by a frame of another batch or size
        self.steps = 0  # steps since the last (re)start
        self._states: list[torch.Tensor] | None = None
        self._key: tuple[int, int, int] | None = None

    def state_names(self) -> list[str]:
        """One name per state, in forward's order: the module each belongs to."""
        return [name for names in self.names for name in names]

    def state_shapes(self, height: int, width: int) -> list[Shape]:
        """Each state's shape without the batch axis, for frames of height x width."""
        shapes, size = [], (height, width)
        for layer in self.layers:
            layer_shapes, size = layer.state_shapes(*size)
            shapes += layer_shapes
        return shapes

    def initial_state(self, batch: int, height: int, width: int) -> list[torch.Tensor]:
        """Zeros (the warm-up policy), on the network's device."""
        parameter = next(self.parameters())
        return [torch.zeros((batch, *shape), dtype=parameter.dtype, device=parameter.device)
                for shape in self.state_shapes(height, width)]

    def forward(self, frame: torch.Tensor, *states: torch.Tensor) -> tuple[torch.Tensor, ...]:
        expected = sum(map(len, self.names))
        if len(states) != expected:
            raise ValueError(f"StreamingX3D takes {expected} states, got {len(states)}")
        x, new_states, first = frame.unsqueeze(2), [], 0  # every layer sees one frame: (B, C, 1, h, w)
        for layer, names in zip(self.layers, self.names):
            x, updated = layer(x, *states[first:first + len(names)])
            new_states += updated
            first += len(names)
        return (x, *new_states)

    def reset(self) -> None:
        """Forget every stream: the next step starts from zero states and warms up again."""
        self._states, self._key, self.steps = None, None, 0

    @torch.inference_mode()
    def step(self, frames: torch.Tensor) -> torch.Tensor | None:
        """The newest frame of each of B streams (B, 3, H, W) float32 -> (B, classes) probabilities, or None."""
        frames = torch.as_tensor(frames)
        if frames.ndim != 4 or frames.shape[1] != 3 or frames.dtype != torch.float32:
            raise ValueError(f"step takes frames (B, 3, H, W) float32, got {tuple(frames.shape)} {frames.dtype}")
        frames = frames.to(next(self.parameters()).device)
        key = (frames.shape[0], *frames.shape[2:])  # batch, height, width the states are built for
        if self._key is not None and key != self._key:
            self.restarts += 1
            self.reset()
        if self._states is None:
            self._states, self._key = self.initial_state(*key), key
        probabilities, *self._states = self(frames, *self._states)
        self.steps += 1
        return None if self.steps <= self.warmup_frames else probabilities
