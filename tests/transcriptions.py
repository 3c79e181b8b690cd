"""NumPy transcriptions of every reference the tests check rules against, in one place.

Each function ``reference(**hyperparameters)`` returns ``(step, init_state)``
for :func:`harness.numpy_trajectory`: ``step(params, grads, state, t)``
returns the new parameters and state at step ``t`` (1, 2, ...), transcribed
from the published code or paper named in its docstring or comment, never
from symupdates.  The test modules import them from here.
"""

import numpy as np


def zeros_like_all(params, count=1):
    """``count`` lists of zeros shaped like ``params``: fresh state slots."""
    return [[np.zeros_like(p) for p in params] for _ in range(count)]


# ---------------------------------------------------------------------------
# The published formulas (the papers' algorithms, Lasagne's forms)


def reference_sgd(learning_rate):
    def step(params, grads, state, t):
        return [p - learning_rate * g for p, g in zip(params, grads)], state

    return step, lambda params: None


def reference_momentum(learning_rate, momentum=0.9):
    # Polyak's heavy ball as Lasagne documents it: the velocity carries -lr * grad.
    def step(params, grads, velocities, t):
        velocities = [momentum * v - learning_rate * g for v, g in zip(velocities, grads)]
        return [p + v for p, v in zip(params, velocities)], velocities

    return step, lambda params: [np.zeros_like(p) for p in params]


def reference_nesterov_momentum(learning_rate, momentum=0.9):
    # Sutskever et al. (2013) rewritten so the gradient is taken at the stored point.
    def step(params, grads, velocities, t):
        velocities = [momentum * v - learning_rate * g for v, g in zip(velocities, grads)]
        new = [p + momentum * v - learning_rate * g for p, v, g in zip(params, velocities, grads)]
        return new, velocities

    return step, lambda params: [np.zeros_like(p) for p in params]


def lasagne_momentum(learning_rate, momentum=0.9, nesterov=False):
    """Lasagne's documented formulas for momentum and nesterov_momentum."""

    def step(params, grads, state, t):
        (v,) = state
        v = [momentum * vi - learning_rate * g for vi, g in zip(v, grads)]
        if nesterov:
            return [p + momentum * vi - learning_rate * g for p, vi, g in zip(params, v, grads)], [v]
        return [p + vi for p, vi in zip(params, v)], [v]

    return step, lambda params: zeros_like_all(params, 1)


def ema_momentum(learning_rate, beta):
    """Momentum as a moving average: v = beta * v + (1 - beta) * dw; w = w - learning_rate * v (v from 0)."""

    def step(params, grads, state, t):
        (v,) = state
        v = [beta * vi + (1 - beta) * dw for vi, dw in zip(v, grads)]
        return [w - learning_rate * vi for w, vi in zip(params, v)], [v]

    return step, lambda params: zeros_like_all(params, 1)


def reference_adagrad(learning_rate=1.0, epsilon=1e-6):
    # Duchi et al. (2011) with Lasagne's epsilon under the root.
    def step(params, grads, sums, t):
        sums = [s + g * g for s, g in zip(sums, grads)]
        return [p - learning_rate * g / np.sqrt(s + epsilon) for p, g, s in zip(params, grads, sums)], sums

    return step, lambda params: [np.zeros_like(p) for p in params]


def reference_rmsprop(learning_rate=1.0, rho=0.9, epsilon=1e-6):
    # Tieleman and Hinton (2012), lecture 6.5: r = rho r + (1 - rho) g^2, eta / sqrt(r + eps).
    def step(params, grads, r, t):
        r = [rho * ri + (1 - rho) * g * g for ri, g in zip(r, grads)]
        return [p - learning_rate * g / np.sqrt(ri + epsilon) for p, g, ri in zip(params, grads, r)], r

    return step, lambda params: [np.zeros_like(p) for p in params]


def reference_adadelta(learning_rate=1.0, rho=0.95, epsilon=1e-6):
    # Zeiler (2012), Algorithm 1; the learning rate scales the applied step
    # only, the running average E[dx^2] accumulates the unscaled step (the
    # form torch.optim.Adadelta documents; for learning_rate=1 it is the paper).
    def step(params, grads, state, t):
        eg2, edx2 = state
        eg2 = [rho * a + (1 - rho) * g * g for a, g in zip(eg2, grads)]
        dx = [np.sqrt(d + epsilon) / np.sqrt(a + epsilon) * g for a, d, g in zip(eg2, edx2, grads)]
        edx2 = [rho * d + (1 - rho) * x * x for d, x in zip(edx2, dx)]
        return [p - learning_rate * x for p, x in zip(params, dx)], (eg2, edx2)

    return step, lambda params: tuple(zeros_like_all(params, 2))


def reference_adam(learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8):
    # Kingma and Ba (2015), Algorithm 1 with the reordering at the end of
    # section 2: alpha_t = alpha sqrt(1 - beta2^t) / (1 - beta1^t), epsilon-hat.
    def step(params, grads, state, t):
        m, v = state
        m = [beta1 * mi + (1 - beta1) * g for mi, g in zip(m, grads)]
        v = [beta2 * vi + (1 - beta2) * g * g for vi, g in zip(v, grads)]
        alpha_t = learning_rate * np.sqrt(1 - beta2**t) / (1 - beta1**t)
        return [p - alpha_t * mi / (np.sqrt(vi) + epsilon) for p, mi, vi in zip(params, m, v)], (m, v)

    return step, lambda params: tuple(zeros_like_all(params, 2))


def reference_adamax(learning_rate=0.002, beta1=0.9, beta2=0.999, epsilon=1e-8):
    # Kingma and Ba (2015), Algorithm 2, with Lasagne's epsilon added to u.
    def step(params, grads, state, t):
        m, u = state
        m = [beta1 * mi + (1 - beta1) * g for mi, g in zip(m, grads)]
        u = [np.maximum(beta2 * ui, np.abs(g)) for ui, g in zip(u, grads)]
        step_size = learning_rate / (1 - beta1**t)
        return [p - step_size * mi / (ui + epsilon) for p, mi, ui in zip(params, m, u)], (m, u)

    return step, lambda params: tuple(zeros_like_all(params, 2))


def reference_amsgrad(learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8, bites=None):
    # Reddi, Kale and Kumar (2018), Algorithm 2: v_hat = max(v_hat, v) over
    # the raw second moment; Adam's bias-corrected step size as in Lasagne.
    def step(params, grads, state, t):
        m, v, v_hat = state
        m = [beta1 * mi + (1 - beta1) * g for mi, g in zip(m, grads)]
        v = [beta2 * vi + (1 - beta2) * g * g for vi, g in zip(v, grads)]
        v_hat = [np.maximum(h, vi) for h, vi in zip(v_hat, v)]
        if bites is not None:
            bites.append(sum(int(np.sum(h > vi)) for h, vi in zip(v_hat, v)))
        alpha_t = learning_rate * np.sqrt(1 - beta2**t) / (1 - beta1**t)
        new = [p - alpha_t * mi / (np.sqrt(h) + epsilon) for p, mi, h in zip(params, m, v_hat)]
        return new, (m, v, v_hat)

    return step, lambda params: tuple(zeros_like_all(params, 3))


def reference_adagrad_window(learning_rate=0.001, epsilon=0.1, n_win=10):
    # PyMC's adagrad_window: the squared gradients of the last n_win steps
    # (a ring buffer written at position (t - 1) mod n_win), summed.
    def step(params, grads, windows, t):
        slot = (t - 1) % n_win
        for w, g in zip(windows, grads):
            w[..., slot] = g * g
        new = [p - learning_rate * g / np.sqrt(w.sum(axis=-1) + epsilon) for p, g, w in zip(params, grads, windows)]
        return new, windows

    return step, lambda params: [np.zeros(p.shape + (n_win,)) for p in params]


def reference_lamb(learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-6):
    # You et al. (2020), Algorithm 2 with optax's conventions: the trust ratio
    # ||param|| / ||u|| per tensor, 1 when either norm is 0.
    def step(params, grads, state, t):
        m, v = state
        m = [beta1 * mi + (1 - beta1) * g for mi, g in zip(m, grads)]
        v = [beta2 * vi + (1 - beta2) * g * g for vi, g in zip(v, grads)]
        u = [(mi / (1 - beta1**t)) / (np.sqrt(vi / (1 - beta2**t)) + epsilon) for mi, vi in zip(m, v)]
        ratios = [np.linalg.norm(p) / np.linalg.norm(ui) for p, ui in zip(params, u)]
        return [p - learning_rate * r * ui for p, r, ui in zip(params, ratios, u)], (m, v)

    return step, lambda params: ([np.zeros_like(p) for p in params], [np.zeros_like(p) for p in params])


# ---------------------------------------------------------------------------
# Chainer


def chainer_momentum_sgd(lr=0.01, momentum=0.9):
    def step(params, grads, state, t):
        (v,) = state
        v = [momentum * vi - lr * g for vi, g in zip(v, grads)]
        return [p + vi for p, vi in zip(params, v)], [v]

    return step, lambda params: zeros_like_all(params, 1)


def chainer_corrected_momentum_sgd(lr=0.01, momentum=0.9):
    def step(params, grads, state, t):
        (v,) = state
        v = [momentum * vi - g for vi, g in zip(v, grads)]
        return [p + lr * vi for p, vi in zip(params, v)], [v]

    return step, lambda params: zeros_like_all(params, 1)


def chainer_adagrad(lr=0.001, eps=1e-8):
    def step(params, grads, state, t):
        (h,) = state
        h = [hi + g * g for hi, g in zip(h, grads)]
        return [p - lr * g / (np.sqrt(hi) + eps) for p, g, hi in zip(params, grads, h)], [h]

    return step, lambda params: zeros_like_all(params, 1)


def chainer_rmsprop(lr=0.01, alpha=0.99, eps=1e-8):
    def step(params, grads, state, t):
        (ms,) = state
        ms = [alpha * m + (1 - alpha) * g * g for m, g in zip(ms, grads)]
        return [p - lr * g / (np.sqrt(m) + eps) for p, g, m in zip(params, grads, ms)], [ms]

    return step, lambda params: zeros_like_all(params, 1)


def chainer_rmsprop_graves(lr=1e-4, alpha=0.95, momentum=0.9, eps=1e-4):
    def step(params, grads, state, t):
        n, g_avg, delta = state
        n = [alpha * ni + (1 - alpha) * g * g for ni, g in zip(n, grads)]
        g_avg = [alpha * gi + (1 - alpha) * g for gi, g in zip(g_avg, grads)]
        delta = [
            momentum * d - lr * g / np.sqrt(ni - gi * gi + eps) for d, g, ni, gi in zip(delta, grads, n, g_avg)
        ]
        return [p + d for p, d in zip(params, delta)], [n, g_avg, delta]

    return step, lambda params: zeros_like_all(params, 3)


def chainer_smorms3(lr=0.001, eps=1e-16):
    def step(params, grads, state, t):
        mem, g_avg, g2_avg = state
        new_params, new_mem, new_g, new_g2 = [], [], [], []
        for p, grad, m, g, g2 in zip(params, grads, mem, g_avg, g2_avg):
            r = 1 / (m + 1)
            g = (1 - r) * g + r * grad
            g2 = (1 - r) * g2 + r * grad * grad
            x = g * g / (g2 + eps)
            new_params.append(p - grad * np.minimum(x, lr) / (np.sqrt(g2) + eps))
            new_mem.append(1 + m * (1 - x))
            new_g.append(g)
            new_g2.append(g2)
        return new_params, [new_mem, new_g, new_g2]

    return step, lambda params: [[np.ones_like(p) for p in params]] + zeros_like_all(params, 2)


def chainer_adam(alpha=0.001, beta1=0.9, beta2=0.999, eps=1e-8, amsgrad=False, adabound=False, final_lr=0.1,
                 gamma=1e-3):
    """chainer.optimizers.Adam's CPU update rule (eta=1, weight_decay_rate=0)."""

    def step(params, grads, state, t):
        ms, vs, vhats = state
        alpha_t = alpha * np.sqrt(1.0 - beta2**t) / (1.0 - beta1**t)
        lower = final_lr * (1.0 - 1.0 / (gamma * t + 1))
        upper = final_lr * (1.0 + 1.0 / (gamma * t))
        new = []
        for i, (p, g) in enumerate(zip(params, grads)):
            ms[i] += (1 - beta1) * (g - ms[i])
            vs[i] += (1 - beta2) * (g * g - vs[i])
            if amsgrad:
                np.maximum(vhats[i], vs[i], out=vhats[i])
                vhat = vhats[i]
            else:
                vhat = vs[i]
            step_size = alpha_t / (np.sqrt(vhat) + eps)
            if adabound:
                step_size = np.clip(step_size, lower, upper)
            new.append(p - step_size * ms[i])
        return new, state

    return step, lambda params: zeros_like_all(params, 3)


# ---------------------------------------------------------------------------
# Keras 2 (standalone Keras 2.0-2.3)


def keras2_adagrad(lr=0.01, epsilon=1e-7):
    """Standalone Keras 2's Adagrad.get_updates (keras/optimizers.py, Keras 2.0-2.3)."""

    def step(params, grads, state, t):
        (accumulators,) = state
        new_a = [a + g**2 for a, g in zip(accumulators, grads)]
        return [p - lr * g / (np.sqrt(a) + epsilon) for p, g, a in zip(params, grads, new_a)], [new_a]

    return step, lambda params: zeros_like_all(params, 1)


def keras2_rmsprop(lr=0.001, rho=0.9, epsilon=1e-7):
    """Standalone Keras 2's RMSprop.get_updates (keras/optimizers.py, Keras 2.0-2.3)."""

    def step(params, grads, state, t):
        (accumulators,) = state
        new_a = [rho * a + (1.0 - rho) * g**2 for a, g in zip(accumulators, grads)]
        return [p - lr * g / (np.sqrt(a) + epsilon) for p, g, a in zip(params, grads, new_a)], [new_a]

    return step, lambda params: zeros_like_all(params, 1)


def keras2_nadam(lr=0.002, beta_1=0.9, beta_2=0.999, epsilon=1e-7, schedule_decay=0.004):
    """keras.optimizers.Nadam of Keras 2 (keras/optimizers.py)."""

    def step(params, grads, state, t):
        ms, vs, m_schedule = state
        momentum_cache_t = beta_1 * (1.0 - 0.5 * (0.96 ** (t * schedule_decay)))
        momentum_cache_t_1 = beta_1 * (1.0 - 0.5 * (0.96 ** ((t + 1) * schedule_decay)))
        m_schedule_new = m_schedule[0] * momentum_cache_t
        m_schedule_next = m_schedule[0] * momentum_cache_t * momentum_cache_t_1
        m_schedule[0] = m_schedule_new
        new = []
        for i, (p, g) in enumerate(zip(params, grads)):
            g_prime = g / (1.0 - m_schedule_new)
            ms[i] = beta_1 * ms[i] + (1.0 - beta_1) * g
            m_t_prime = ms[i] / (1.0 - m_schedule_next)
            vs[i] = beta_2 * vs[i] + (1.0 - beta_2) * np.square(g)
            v_t_prime = vs[i] / (1.0 - beta_2**t)
            m_t_bar = (1.0 - momentum_cache_t) * g_prime + momentum_cache_t_1 * m_t_prime
            new.append(p - lr * m_t_bar / (np.sqrt(v_t_prime) + epsilon))
        return new, state

    return step, lambda params: zeros_like_all(params, 2) + [[1.0]]


# ---------------------------------------------------------------------------
# torch.optim


def torch_asgd(lr, lambd, alpha, t0):
    # torch.optim.ASGD: the step size eta decays after each step; the average does not touch the parameters.
    def step(params, grads, state, t):
        eta = lr / (1 + lambd * lr * (t - 1)) ** alpha
        return [p * (1 - lambd * eta) - eta * g for p, g in zip(params, grads)], state

    return step, lambda params: None


def torch_adamw(lr, beta1, beta2, eps, weight_decay):
    # torch.optim.AdamW: decoupled decay first, then Adam with eps added to sqrt(v_hat).
    def step(params, grads, state, t):
        ms, vs = state
        ms = [beta1 * m + (1 - beta1) * g for m, g in zip(ms, grads)]
        vs = [beta2 * v + (1 - beta2) * g * g for v, g in zip(vs, grads)]
        new = [
            p * (1 - lr * weight_decay) - lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)
            for p, m, v in zip(params, ms, vs)
        ]
        return new, (ms, vs)

    return step, lambda params: zeros_like_all(params, 2)


def torch_radam(lr, beta1, beta2, eps, threshold):
    # torch.optim.RAdam (Liu et al. 2020, Algorithm 2); torch's threshold is 5.
    rho_inf = 2 / (1 - beta2) - 1

    def step(params, grads, state, t):
        ms, vs = state
        ms = [beta1 * m + (1 - beta1) * g for m, g in zip(ms, grads)]
        vs = [beta2 * v + (1 - beta2) * g * g for v, g in zip(vs, grads)]
        rho_t = rho_inf - 2 * t * beta2**t / (1 - beta2**t)
        new = []
        for p, m, v in zip(params, ms, vs):
            m_hat = m / (1 - beta1**t)
            if rho_t > threshold:
                rect = np.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
                new.append(p - lr * m_hat * rect * np.sqrt(1 - beta2**t) / (np.sqrt(v) + eps))
            else:
                new.append(p - lr * m_hat)
        return new, (ms, vs)

    return step, lambda params: zeros_like_all(params, 2)


def torch_rprop(lr, etaminus, etaplus, step_size_min, step_size_max):
    # torch.optim.Rprop: the sign of grad * prev_grad grows or shrinks each element's step size.
    def step(params, grads, state, t):
        previous, sizes = state
        new, new_previous, new_sizes = [], [], []
        for p, g, q, size in zip(params, grads, previous, sizes):
            same = g * q
            factor = np.where(same > 0, etaplus, np.where(same < 0, etaminus, 1.0))
            size = np.clip(size * factor, step_size_min, step_size_max)
            g = np.where(same < 0, 0.0, g)
            new.append(p - np.sign(g) * size)
            new_previous.append(g)
            new_sizes.append(size)
        return new, (new_previous, new_sizes)

    return step, lambda params: ([np.zeros_like(p) for p in params], [np.full_like(p, lr) for p in params])


# ---------------------------------------------------------------------------
# optax


def optax_adabelief(lr, b1, b2, eps, eps_root):
    # optax.scale_by_belief: the second moment of the prediction error, eps_root added to the state.
    def step(params, grads, state, t):
        ms, ss = state
        ms = [b1 * m + (1 - b1) * g for m, g in zip(ms, grads)]
        ss = [b2 * s + (1 - b2) * (g - m) ** 2 + eps_root for s, g, m in zip(ss, grads, ms)]
        new = [p - lr * (m / (1 - b1**t)) / (np.sqrt(s / (1 - b2**t)) + eps) for p, m, s in zip(params, ms, ss)]
        return new, (ms, ss)

    return step, lambda params: zeros_like_all(params, 2)


def optax_yogi(lr, b1, b2, eps, eps_root, initial_accumulator_value=1e-6):
    # optax.scale_by_yogi: an additive second-moment update by the sign of its error.
    def step(params, grads, state, t):
        ms, vs = state
        ms = [b1 * m + (1 - b1) * g for m, g in zip(ms, grads)]
        vs = [v - (1 - b2) * np.sign(v - g * g) * g * g for v, g in zip(vs, grads)]
        new = [p - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t) + eps_root) + eps)
               for p, m, v in zip(params, ms, vs)]
        return new, (ms, vs)

    def init(params):
        return [[np.full_like(p, initial_accumulator_value) for p in params] for _ in range(2)]

    return step, init


def optax_adan(lr, b1, b2, b3, eps, eps_root, weight_decay):
    # optax.adan: scale_by_adan (Xie et al. 2022, Algorithm 1), decayed weights, learning rate.
    def step(params, grads, state, t):
        ms, vs, ns, previous = state
        diffs = [np.zeros_like(g) if t == 1 else g - q for g, q in zip(grads, previous)]
        ms = [b1 * m + (1 - b1) * g for m, g in zip(ms, grads)]
        vs = [b2 * v + (1 - b2) * d for v, d in zip(vs, diffs)]
        ns = [b3 * n + (1 - b3) * (g + (1 - b2) * d) ** 2 for n, g, d in zip(ns, grads, diffs)]
        new = []
        for p, m, v, n in zip(params, ms, vs, ns):
            u = (m / (1 - b1**t) + (1 - b2) * v / (1 - b2**t)) / (np.sqrt(n / (1 - b3**t) + eps_root) + eps)
            new.append(p - lr * (u + weight_decay * p))
        return new, (ms, vs, ns, [g.copy() for g in grads])

    return step, lambda params: zeros_like_all(params, 4)


def optax_sign_sgd(lr):
    def step(params, grads, state, t):
        return [p - lr * np.sign(g) for p, g in zip(params, grads)], state

    return step, lambda params: None


def optax_signum(lr, beta):
    def step(params, grads, state, t):
        ms = [beta * m + (1 - beta) * g for m, g in zip(state, grads)]
        return [p - lr * np.sign(m) for p, m in zip(params, ms)], ms

    return step, lambda params: [np.zeros_like(p) for p in params]


def optax_adopt(lr, b1=0.9, b2=0.9999, eps=1e-6, nesterov=False, use_clipping=True):
    # optax.contrib.scale_by_adopt (then -lr): the gradient normalized by the
    # second moment *before* this step, clipped at count**0.25 with count the
    # steps done; the first step only sets nu (b1 -> 1, b2 -> 0).
    def step(params, grads, state, t):
        mus, nus = state
        count = t - 1
        b1_, b2_ = (b1, b2) if count > 0 else (1.0, 0.0)
        new, new_mus, new_nus = [], [], []
        for p, g, mu, nu in zip(params, grads, mus, nus):
            u = g / np.maximum(np.sqrt(nu), eps)
            if use_clipping:
                u = np.clip(u, -count**0.25, count**0.25)
            mu = b1_ * mu + (1 - b1_) * u
            direction = b1_ * mu + (1 - b1_) * u if nesterov else mu
            new_nus.append(b2_ * nu + (1 - b2_) * g * g)
            new_mus.append(mu)
            new.append(p - lr * direction)
        return new, (new_mus, new_nus)

    return step, lambda params: zeros_like_all(params, 2)


def optax_schedule_free_adamw(lr=0.0025, b1=0.9, b2=0.999, eps=1e-8, weight_decay=0.0, weight_lr_power=2.0):
    # optax.contrib.schedule_free(chain(scale_by_rms(b2, eps, eps_in_sqrt=False,
    # bias_correction=True), add_decayed_weights(weight_decay),
    # scale_by_learning_rate(lr)), lr, b1, weight_lr_power), constant lr: the
    # parameters are y, the state z (starting at the parameters) and nu.
    def step(params, grads, state, t):
        zs, nus, weight_sum = state
        weight = lr**weight_lr_power
        weight_sum = weight_sum + weight
        c = weight / weight_sum if weight_sum > 0 else 0.0
        new, new_zs, new_nus = [], [], []
        for y, g, z, nu in zip(params, grads, zs, nus):
            nu = b2 * nu + (1 - b2) * g * g
            u = g / (np.sqrt(nu / (1 - b2**t)) + eps) + weight_decay * y
            z_next = z - lr * u
            x = (1 - c) * (y - (1 - b1) * z) / b1 + c * z_next
            new.append(b1 * x + (1 - b1) * z_next)
            new_zs.append(z_next)
            new_nus.append(nu)
        return new, (new_zs, new_nus, weight_sum)

    return step, lambda params: ([np.array(p) for p in params], zeros_like_all(params)[0], 0.0)


# ---------------------------------------------------------------------------
# lion-pytorch


def lion_pytorch(lr=1e-4, beta1=0.9, beta2=0.99, weight_decay=0.0):
    """lucidrains/lion-pytorch's update_fn."""

    def step(params, grads, state, t):
        (exp_avg,) = state
        new_params = []
        for p, g, m in zip(params, grads, exp_avg):
            p = p * (1 - lr * weight_decay)
            p = p - lr * np.sign(m * beta1 + (1 - beta1) * g)
            new_params.append(p)
        exp_avg = [m * beta2 + (1 - beta2) * g for m, g in zip(exp_avg, grads)]
        return new_params, [exp_avg]

    return step, lambda params: zeros_like_all(params, 1)


# ---------------------------------------------------------------------------
# Hypergradient descent: Baydin et al. (2018), algorithms SGD-HD and Adam-HD
# (arXiv:1703.04782).  State: the learning rate alpha, then d u_{t-1} / d alpha.


def baydin_sgd_hd(alpha, beta):
    def step(params, grads, state, t):
        alpha, direction = state
        h = sum(float(np.sum(g * d)) for g, d in zip(grads, direction))
        alpha = alpha - beta * h
        return [p - alpha * g for p, g in zip(params, grads)], (alpha, [-g for g in grads])

    return step, lambda params: (alpha, [np.zeros_like(p) for p in params])


def baydin_adam_hd(alpha, beta, beta1=0.9, beta2=0.999, eps=1e-8):
    def step(params, grads, state, t):
        alpha, direction, m, v = state
        h = sum(float(np.sum(g * d)) for g, d in zip(grads, direction))
        alpha = alpha - beta * h
        m = [beta1 * mi + (1 - beta1) * g for mi, g in zip(m, grads)]
        v = [beta2 * vi + (1 - beta2) * g**2 for vi, g in zip(v, grads)]
        unit = [(mi / (1 - beta1**t)) / (np.sqrt(vi / (1 - beta2**t)) + eps) for mi, vi in zip(m, v)]
        return [p - alpha * u for p, u in zip(params, unit)], (alpha, [-u for u in unit], m, v)

    return step, lambda params: (alpha, *zeros_like_all(params, 3))


def torch_muon(lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True, ns_coefficients=(3.4445, -4.7750, 2.0315),
               eps=1e-7, ns_steps=5, adjust_lr_fn=None, dtype="float64", fallback_lr=None, fallback_momentum=None):
    """torch.optim.Muon's step (torch/optim/_muon.py), without its bfloat16 cast.

    Non-matrix parameters follow torch.optim.SGD with momentum (the fallback case).
    """
    a, b, c = ns_coefficients

    def orthogonalise(update):
        x = update.T if update.shape[0] > update.shape[1] else update
        x = x / max(np.linalg.norm(x), eps)
        for _ in range(ns_steps):
            gram = x @ x.T
            x = a * x + (b * gram + c * gram @ gram) @ x
        return x.T if update.shape[0] > update.shape[1] else x

    def step(params, grads, state, t):
        new_params, new_state = [], []
        for p, g, buf in zip(params, grads, state):
            if p.ndim != 2:  # torch.optim.SGD(momentum): buf := g on the first step, then mu buf + g
                buf = g if t == 1 else fallback_momentum * buf + g
                new_params.append(p - fallback_lr * buf)
                new_state.append(buf)
                continue
            buf = buf + (1 - momentum) * (g - buf)
            update = orthogonalise(g + momentum * (buf - g) if nesterov else buf)
            rows, cols = p.shape
            if adjust_lr_fn == "match_rms_adamw":
                ratio = 0.2 * np.sqrt(max(rows, cols))
            else:
                ratio = np.sqrt(max(1, rows / cols))
            new_params.append(p * (1 - lr * weight_decay) - lr * ratio * update)
            new_state.append(buf)
        return [np.asarray(p, dtype=dtype) for p in new_params], new_state

    return step, lambda params: [np.zeros_like(p) for p in params]
