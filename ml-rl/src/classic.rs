//! Gymnasium 1.4's classic-control environments, step for step: the same
//! seed and actions give the same observations, rewards, terminations and
//! truncations (`tests/gymnasium.rs` compares them with trajectories the
//! real Gymnasium recorded). Where Gymnasium computes in single precision
//! (NumPy 2 keeps `float32` when a Python float meets it), so do these.

use std::f64::consts::PI;

use ml_core::{Error, Result};

use crate::env::{Env, Info, Step};
use crate::render::{Canvas, Frame};
use crate::rng::NumpyRng;
use crate::space::{Action, Space};

/// `Default` as `new()`.
macro_rules! impl_default {
    ($t:ty) => {
        impl Default for $t {
            fn default() -> Self {
                Self::new()
            }
        }
    };
}

/// An environment's id and its two spaces (fields `obs_space`, `act_space`).
macro_rules! env_basics {
    ($id:literal) => {
        fn id(&self) -> &str {
            $id
        }
        fn observation_space(&self) -> &Space {
            &self.obs_space
        }
        fn action_space(&self) -> &Space {
            &self.act_space
        }
    };
}

/// The generator a reset uses: reseeded with a seed, kept without one.
fn reseed(rng: &mut Option<NumpyRng>, seed: Option<u64>) -> &mut NumpyRng {
    if let Some(s) = seed {
        *rng = Some(NumpyRng::new(u128::from(s)));
    }
    rng.get_or_insert_with(NumpyRng::from_entropy)
}

fn not_reset(id: &str) -> Error {
    Error::invalid("env", format!("{id}: call reset before step or render"))
}

fn discrete(space: &Space, action: &Action) -> Result<i64> {
    space.check(action)?;
    match action {
        Action::Discrete(a) => Ok(*a),
        _ => unreachable!("checked against a discrete space"),
    }
}

/// A `Box` action's values; the bounds are the environment's business
/// (Gymnasium clips them), only the length and NaN are refused.
fn continuous<'a>(space: &Space, action: &'a Action) -> Result<&'a [f32]> {
    match action {
        Action::Continuous(v) if v.len() == space.flat_dim() && v.iter().all(|x| !x.is_nan()) => Ok(v),
        // Anything else is outside the space: its check names why.
        _ => Err(space
            .check(action)
            .err()
            .unwrap_or_else(|| Error::invalid("action", "not a continuous action"))),
    }
}

/// Python's and NumPy's float modulo: the sign of the divisor.
fn py_mod(a: f64, b: f64) -> f64 {
    let r = a % b;
    if r != 0.0 && ((r < 0.0) != (b < 0.0)) { r + b } else { r }
}

fn f32s(values: &[f64]) -> Vec<f32> {
    values.iter().map(|&v| v as f32).collect()
}

/// CartPole-v1: push a cart left or right to keep a pole upright
/// (Barto, Sutton & Anderson, 1983); +1 a step, terminated when the pole
/// leans past 12° or the cart leaves ±2.4.
#[derive(Debug, Clone)]
pub struct CartPole {
    obs_space: Space,
    act_space: Space,
    state: Option<[f64; 4]>,
    steps_beyond_terminated: Option<usize>,
    rng: Option<NumpyRng>,
}

impl CartPole {
    const GRAVITY: f64 = 9.8;
    const MASSCART: f64 = 1.0;
    const MASSPOLE: f64 = 0.1;
    const LENGTH: f64 = 0.5;
    const FORCE_MAG: f64 = 10.0;
    const TAU: f64 = 0.02;
    const X_THRESHOLD: f64 = 2.4;

    fn theta_threshold() -> f64 {
        12.0 * 2.0 * PI / 360.0
    }

    /// A new, unreset environment.
    pub fn new() -> Self {
        let t = Self::theta_threshold();
        let high = [Self::X_THRESHOLD * 2.0, f64::INFINITY, t * 2.0, f64::INFINITY];
        Self {
            obs_space: Space::boxed(high.iter().map(|&h| -h as f32).collect(), f32s(&high)),
            act_space: Space::discrete(2),
            state: None,
            steps_beyond_terminated: None,
            rng: None,
        }
    }
}

impl_default!(CartPole);

impl Env for CartPole {
    env_basics!("CartPole-v1");

    fn reset(&mut self, seed: Option<u64>) -> Result<(Vec<f32>, Info)> {
        let rng = reseed(&mut self.rng, seed);
        let s = [0; 4].map(|_| rng.uniform(-0.05, 0.05));
        self.state = Some(s);
        self.steps_beyond_terminated = None;
        Ok((f32s(&s), Info::new()))
    }

    fn step(&mut self, action: &Action) -> Result<Step> {
        let a = discrete(&self.act_space, action)?;
        let [x, x_dot, theta, theta_dot] = self.state.ok_or_else(|| not_reset(self.id()))?;
        let total_mass = Self::MASSPOLE + Self::MASSCART;
        let polemass_length = Self::MASSPOLE * Self::LENGTH;
        let force = if a == 1 { Self::FORCE_MAG } else { -Self::FORCE_MAG };
        let (costheta, sintheta) = (theta.cos(), theta.sin());
        let temp = (force + polemass_length * (theta_dot * theta_dot) * sintheta) / total_mass;
        let thetaacc = (Self::GRAVITY * sintheta - costheta * temp)
            / (Self::LENGTH * (4.0 / 3.0 - Self::MASSPOLE * (costheta * costheta) / total_mass));
        let xacc = temp - polemass_length * thetaacc * costheta / total_mass;
        let s = [
            x + Self::TAU * x_dot,
            x_dot + Self::TAU * xacc,
            theta + Self::TAU * theta_dot,
            theta_dot + Self::TAU * thetaacc,
        ];
        self.state = Some(s);
        let t = Self::theta_threshold();
        let terminated = s[0] < -Self::X_THRESHOLD || s[0] > Self::X_THRESHOLD || s[2] < -t || s[2] > t;
        let reward = if !terminated {
            1.0
        } else if let Some(n) = &mut self.steps_beyond_terminated {
            // Stepping past the end is undefined in Gymnasium; it pays 0.
            *n += 1;
            0.0
        } else {
            self.steps_beyond_terminated = Some(0);
            1.0
        };
        Ok(Step {
            obs: f32s(&s),
            reward,
            terminated,
            truncated: false,
            info: Info::new(),
        })
    }

    fn render(&self) -> Result<Frame> {
        let [x, _, theta, _] = self.state.ok_or_else(|| not_reset(self.id()))?;
        let (w, h) = (600, 400);
        let mut c = Canvas::new(w, h, [255, 255, 255]);
        let scale = w as f64 / (Self::X_THRESHOLD * 2.0);
        let (pole_w, pole_len) = (10.0, scale * (2.0 * Self::LENGTH));
        let (cart_w, cart_h) = (50.0, 30.0);
        let carty = 100.0;
        let cartx = x * scale + w as f64 / 2.0;
        // Gymnasium draws with y up and flips the image; so does this.
        let up = |p: (f64, f64)| (p.0, h as f64 - p.1);
        let (l, r, t, b) = (-cart_w / 2.0, cart_w / 2.0, cart_h / 2.0, -cart_h / 2.0);
        let cart: Vec<(f64, f64)> = [(l, b), (l, t), (r, t), (r, b)]
            .iter()
            .map(|&(px, py)| up((px + cartx, py + carty)))
            .collect();
        c.polygon(&cart, [0, 0, 0]);
        let axle = cart_h / 4.0;
        let (l, r, t, b) = (-pole_w / 2.0, pole_w / 2.0, pole_len - pole_w / 2.0, -pole_w / 2.0);
        let pole: Vec<(f64, f64)> = [(l, b), (l, t), (r, t), (r, b)]
            .iter()
            .map(|&(px, py)| {
                let (sn, cs) = (-theta).sin_cos();
                let (rx, ry) = (px * cs - py * sn, px * sn + py * cs);
                up((rx + cartx, ry + carty + axle))
            })
            .collect();
        c.polygon(&pole, [202, 152, 101]);
        let (ax, ay) = up((cartx, carty + axle));
        c.circle(ax, ay, pole_w / 2.0, [129, 132, 203]);
        let (_, gy) = up((0.0, carty));
        c.line(0.0, gy, w as f64, gy, 1.0, [0, 0, 0]);
        Ok(c.into_frame())
    }
}

/// MountainCar-v0: drive an underpowered car up a hill by rocking it
/// (Moore, 1990); −1 a step until the flag at 0.5.
#[derive(Debug, Clone)]
pub struct MountainCar {
    obs_space: Space,
    act_space: Space,
    state: Option<[f64; 2]>,
    rng: Option<NumpyRng>,
}

const MC_MIN_POSITION: f64 = -1.2;
const MC_MAX_POSITION: f64 = 0.6;
const MC_MAX_SPEED: f64 = 0.07;

impl MountainCar {
    /// A new, unreset environment.
    pub fn new() -> Self {
        Self {
            obs_space: mountain_space(),
            act_space: Space::discrete(3),
            state: None,
            rng: None,
        }
    }
}

/// Position and velocity, MountainCar's and its continuous twin's.
fn mountain_space() -> Space {
    Space::boxed(
        vec![MC_MIN_POSITION as f32, -MC_MAX_SPEED as f32],
        vec![MC_MAX_POSITION as f32, MC_MAX_SPEED as f32],
    )
}

fn mountain_height(x: f64) -> f64 {
    (3.0 * x).sin() * 0.45 + 0.55
}

/// The hill, the car and the flag (MountainCar's and its continuous twin's).
fn draw_mountain(position: f64, goal: f64) -> Frame {
    let (w, h) = (600usize, 400usize);
    let mut c = Canvas::new(w, h, [255, 255, 255]);
    let world = MC_MAX_POSITION - MC_MIN_POSITION;
    let scale = w as f64 / world;
    let up = |x: f64, y: f64| ((x - MC_MIN_POSITION) * scale, h as f64 - y * scale);
    let mut prev = up(MC_MIN_POSITION, mountain_height(MC_MIN_POSITION));
    for i in 1..=100 {
        let x = MC_MIN_POSITION + world * f64::from(i) / 100.0;
        let p = up(x, mountain_height(x));
        c.line(prev.0, prev.1, p.0, p.1, 1.5, [0, 0, 0]);
        prev = p;
    }
    // Gymnasium tilts the car by cos(3x) radians.
    let angle = (3.0 * position).cos();
    let (cw, ch, clearance) = (40.0, 20.0, 10.0);
    let base = mountain_height(position);
    let corner = |dx: f64, dy: f64| {
        let (s, k) = angle.sin_cos();
        let (rx, ry) = (dx * k - dy * s, dx * s + dy * k);
        (
            (position - MC_MIN_POSITION) * scale + rx,
            h as f64 - (clearance + base * scale + ry),
        )
    };
    let car = [
        corner(-cw / 2.0, 0.0),
        corner(-cw / 2.0, ch),
        corner(cw / 2.0, ch),
        corner(cw / 2.0, 0.0),
    ];
    c.polygon(&car, [0, 0, 0]);
    for dx in [cw / 4.0, -cw / 4.0] {
        let (x, y) = corner(dx, 0.0);
        c.circle(x, y, ch / 2.5, [128, 128, 128]);
    }
    let (fx, fy) = up(goal, mountain_height(goal));
    c.line(fx, fy, fx, fy - 50.0, 1.5, [0, 0, 0]);
    c.polygon(
        &[(fx, fy - 50.0), (fx, fy - 40.0), (fx + 25.0, fy - 45.0)],
        [204, 204, 0],
    );
    c.into_frame()
}

impl_default!(MountainCar);

impl Env for MountainCar {
    env_basics!("MountainCar-v0");

    fn reset(&mut self, seed: Option<u64>) -> Result<(Vec<f32>, Info)> {
        let rng = reseed(&mut self.rng, seed);
        let s = [rng.uniform(-0.6, -0.4), 0.0];
        self.state = Some(s);
        Ok((f32s(&s), Info::new()))
    }

    fn step(&mut self, action: &Action) -> Result<Step> {
        let a = discrete(&self.act_space, action)?;
        let [mut position, mut velocity] = self.state.ok_or_else(|| not_reset(self.id()))?;
        velocity += (a - 1) as f64 * 0.001 + (3.0 * position).cos() * -0.0025;
        velocity = velocity.clamp(-MC_MAX_SPEED, MC_MAX_SPEED);
        position += velocity;
        position = position.clamp(MC_MIN_POSITION, MC_MAX_POSITION);
        if position == MC_MIN_POSITION && velocity < 0.0 {
            velocity = 0.0;
        }
        let terminated = position >= 0.5 && velocity >= 0.0;
        self.state = Some([position, velocity]);
        Ok(Step {
            obs: f32s(&[position, velocity]),
            reward: -1.0,
            terminated,
            truncated: false,
            info: Info::new(),
        })
    }

    fn render(&self) -> Result<Frame> {
        let [position, _] = self.state.ok_or_else(|| not_reset(self.id()))?;
        Ok(draw_mountain(position, 0.5))
    }
}

/// MountainCarContinuous-v0: the same hill with a continuous force in
/// [−1, 1]; +100 at the flag (0.45), minus 0.1 × force² a step.
#[derive(Debug, Clone)]
pub struct MountainCarContinuous {
    obs_space: Space,
    act_space: Space,
    /// Position and velocity; after the first step they are `float32`
    /// values (Gymnasium stores its state as `float32` there).
    state: Option<[f64; 2]>,
    single: bool,
    rng: Option<NumpyRng>,
}

impl MountainCarContinuous {
    /// A new, unreset environment.
    pub fn new() -> Self {
        Self {
            obs_space: mountain_space(),
            act_space: Space::boxed(vec![-1.0], vec![1.0]),
            state: None,
            single: false,
            rng: None,
        }
    }
}

/// What a NumPy 2 scalar is: a Python float (weak: it takes the other
/// operand's type), `float32` or `float64`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Py,
    F32,
    F64,
}

/// A scalar's value and kind, computed as NumPy 2 computes it (NEP 50).
#[derive(Clone, Copy)]
struct Num(f64, Kind);

impl Num {
    fn op(self, other: Num, f: impl Fn(f64, f64) -> f64, g: impl Fn(f32, f32) -> f32) -> Num {
        let kind = match (self.1, other.1) {
            (Kind::Py, k) | (k, Kind::Py) => k,
            (Kind::F64, _) | (_, Kind::F64) => Kind::F64,
            _ => Kind::F32,
        };
        if kind == Kind::F32 {
            Num(f64::from(g(self.0 as f32, other.0 as f32)), kind)
        } else {
            Num(f(self.0, other.0), kind)
        }
    }
    fn add(self, o: Num) -> Num {
        self.op(o, |a, b| a + b, |a, b| a + b)
    }
    fn sub(self, o: Num) -> Num {
        self.op(o, |a, b| a - b, |a, b| a - b)
    }
    fn mul(self, o: Num) -> Num {
        self.op(o, |a, b| a * b, |a, b| a * b)
    }
    /// A comparison with a Python float, in float32 when this is float32.
    fn cmp(self, o: f64) -> std::cmp::Ordering {
        let (a, b) = if self.1 == Kind::F32 {
            (f64::from(self.0 as f32), f64::from(o as f32))
        } else {
            (self.0, o)
        };
        a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Equal)
    }
}

fn py(v: f64) -> Num {
    Num(v, Kind::Py)
}

impl_default!(MountainCarContinuous);

impl Env for MountainCarContinuous {
    env_basics!("MountainCarContinuous-v0");

    fn reset(&mut self, seed: Option<u64>) -> Result<(Vec<f32>, Info)> {
        let rng = reseed(&mut self.rng, seed);
        let s = [rng.uniform(-0.6, -0.4), 0.0];
        self.state = Some(s);
        self.single = false;
        Ok((f32s(&s), Info::new()))
    }

    fn step(&mut self, action: &Action) -> Result<Step> {
        let a = continuous(&self.act_space, action)?[0];
        let [p0, v0] = self.state.ok_or_else(|| not_reset(self.id()))?;
        let kind = if self.single { Kind::F32 } else { Kind::F64 };
        let (position, velocity) = (Num(p0, kind), Num(v0, kind));
        // min(max(a, -1.0), 1.0): the float32 action, or a Python bound.
        let force = if a < -1.0 {
            py(-1.0)
        } else if a > 1.0 {
            py(1.0)
        } else {
            Num(f64::from(a), Kind::F32)
        };
        // math.cos of the product is a Python float.
        let hill = py(0.0025 * position.mul(py(3.0)).0.cos());
        let mut velocity = velocity.add(force.mul(py(0.0015)).sub(hill));
        use std::cmp::Ordering::{Greater, Less};
        if velocity.cmp(MC_MAX_SPEED) == Greater {
            velocity = py(MC_MAX_SPEED);
        }
        if velocity.cmp(-MC_MAX_SPEED) == Less {
            velocity = py(-MC_MAX_SPEED);
        }
        let mut position = position.add(velocity);
        if position.cmp(MC_MAX_POSITION) == Greater {
            position = py(MC_MAX_POSITION);
        }
        if position.cmp(MC_MIN_POSITION) == Less {
            position = py(MC_MIN_POSITION);
        }
        if position.cmp(MC_MIN_POSITION).is_eq() && velocity.cmp(0.0) == Less {
            velocity = py(0.0);
        }
        let terminated = position.cmp(0.45) != Less && velocity.cmp(0.0) != Less;
        let mut reward = if terminated { 100.0 } else { 0.0 };
        reward -= f64::from(a).powi(2) * 0.1;
        let s = [f64::from(position.0 as f32), f64::from(velocity.0 as f32)];
        self.state = Some(s);
        self.single = true;
        Ok(Step {
            obs: f32s(&s),
            reward,
            terminated,
            truncated: false,
            info: Info::new(),
        })
    }

    fn render(&self) -> Result<Frame> {
        let [position, _] = self.state.ok_or_else(|| not_reset(self.id()))?;
        Ok(draw_mountain(position, 0.45))
    }
}

/// Acrobot-v1: swing a two-link pendulum, actuated at the elbow, above
/// the bar (Sutton, 1996; "book" dynamics, RK4 over 0.2 s); −1 a step.
#[derive(Debug, Clone)]
pub struct Acrobot {
    obs_space: Space,
    act_space: Space,
    state: Option<[f64; 4]>,
    rng: Option<NumpyRng>,
}

impl Acrobot {
    const DT: f64 = 0.2;

    fn max_vel() -> (f64, f64) {
        (4.0 * PI, 9.0 * PI)
    }

    /// A new, unreset environment.
    pub fn new() -> Self {
        let (v1, v2) = Self::max_vel();
        let high = [1.0, 1.0, 1.0, 1.0, v1, v2];
        Self {
            obs_space: Space::boxed(high.iter().map(|&h| -h as f32).collect(), f32s(&high)),
            act_space: Space::discrete(3),
            state: None,
            rng: None,
        }
    }

    fn dsdt(s: [f64; 5]) -> [f64; 5] {
        let (m1, m2, l1, lc1, lc2, i1, i2, g) = (1.0f64, 1.0f64, 1.0f64, 0.5f64, 0.5f64, 1.0, 1.0, 9.8);
        let a = s[4];
        let (theta1, theta2, dtheta1, dtheta2) = (s[0], s[1], s[2], s[3]);
        let d1 = m1 * lc1.powi(2) + m2 * (l1.powi(2) + lc2.powi(2) + 2.0 * l1 * lc2 * theta2.cos()) + i1 + i2;
        let d2 = m2 * (lc2.powi(2) + l1 * lc2 * theta2.cos()) + i2;
        let phi2 = m2 * lc2 * g * (theta1 + theta2 - PI / 2.0).cos();
        let phi1 = -m2 * l1 * lc2 * (dtheta2 * dtheta2) * theta2.sin()
            - 2.0 * m2 * l1 * lc2 * dtheta2 * dtheta1 * theta2.sin()
            + (m1 * lc1 + m2 * l1) * g * (theta1 - PI / 2.0).cos()
            + phi2;
        let ddtheta2 = (a + d2 / d1 * phi1 - m2 * l1 * lc2 * (dtheta1 * dtheta1) * theta2.sin() - phi2)
            / (m2 * lc2.powi(2) + i2 - (d2 * d2) / d1);
        let ddtheta1 = -(d2 * ddtheta2 + phi1) / d1;
        [dtheta1, dtheta2, ddtheta1, ddtheta2, 0.0]
    }

    fn rk4(y0: [f64; 5]) -> [f64; 5] {
        let dt = Self::DT;
        let dt2 = dt / 2.0;
        let add = |y: [f64; 5], h: f64, k: [f64; 5]| std::array::from_fn::<f64, 5, _>(|i| y[i] + h * k[i]);
        let k1 = Self::dsdt(y0);
        let k2 = Self::dsdt(add(y0, dt2, k1));
        let k3 = Self::dsdt(add(y0, dt2, k2));
        let k4 = Self::dsdt(add(y0, dt, k3));
        std::array::from_fn(|i| y0[i] + dt / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]))
    }

    fn wrap(mut x: f64) -> f64 {
        let diff = PI - -PI;
        while x > PI {
            x -= diff;
        }
        while x < -PI {
            x += diff;
        }
        x
    }

    fn obs(s: &[f64; 4]) -> Vec<f32> {
        f32s(&[s[0].cos(), s[0].sin(), s[1].cos(), s[1].sin(), s[2], s[3]])
    }
}

impl_default!(Acrobot);

impl Env for Acrobot {
    env_basics!("Acrobot-v1");

    fn reset(&mut self, seed: Option<u64>) -> Result<(Vec<f32>, Info)> {
        let rng = reseed(&mut self.rng, seed);
        // Drawn in double precision, kept as float32 (`.astype(np.float32)`).
        let s = [0; 4].map(|_| f64::from(rng.uniform(-0.1, 0.1) as f32));
        self.state = Some(s);
        Ok((Self::obs(&s), Info::new()))
    }

    fn step(&mut self, action: &Action) -> Result<Step> {
        let a = discrete(&self.act_space, action)?;
        let s = self.state.ok_or_else(|| not_reset(self.id()))?;
        let torque = [-1.0, 0.0, 1.0][a as usize];
        let ns = Self::rk4([s[0], s[1], s[2], s[3], torque]);
        let (v1, v2) = Self::max_vel();
        let s = [
            Self::wrap(ns[0]),
            Self::wrap(ns[1]),
            ns[2].max(-v1).min(v1),
            ns[3].max(-v2).min(v2),
        ];
        self.state = Some(s);
        let terminated = -s[0].cos() - (s[1] + s[0]).cos() > 1.0;
        Ok(Step {
            obs: Self::obs(&s),
            reward: if terminated { 0.0 } else { -1.0 },
            terminated,
            truncated: false,
            info: Info::new(),
        })
    }

    fn render(&self) -> Result<Frame> {
        let s = self.state.ok_or_else(|| not_reset(self.id()))?;
        let dim = 500usize;
        let mut c = Canvas::new(dim, dim, [255, 255, 255]);
        let bound = 2.2;
        let scale = dim as f64 / (bound * 2.0);
        let offset = dim as f64 / 2.0;
        let to_px = |x: f64, y: f64| (x * scale + offset, dim as f64 - (y * scale + offset));
        let p1 = (-s[0].cos(), s[0].sin());
        let p2 = (p1.0 - (s[0] + s[1]).cos(), p1.1 + (s[0] + s[1]).sin());
        // Gymnasium's drawing: x right is the sine, y the negative cosine.
        let (a, b) = (to_px(0.0, 0.0), to_px(p1.1, p1.0));
        let d = to_px(p2.1, p2.0);
        let (lx, ly) = to_px(-2.2, 1.0);
        let (rx, _) = to_px(2.2, 1.0);
        c.line(lx, ly, rx, ly, 1.0, [0, 0, 0]);
        c.line(a.0, a.1, b.0, b.1, 10.0, [0, 204, 204]);
        c.line(b.0, b.1, d.0, d.1, 10.0, [0, 204, 204]);
        c.circle(a.0, a.1, 5.0, [204, 204, 0]);
        c.circle(b.0, b.1, 5.0, [204, 204, 0]);
        Ok(c.into_frame())
    }
}

/// Pendulum-v1: swing a pendulum up and keep it there with a torque in
/// [−2, 2]; the cost is θ² + 0.1 θ̇² + 0.001 u² (never terminates).
#[derive(Debug, Clone)]
pub struct Pendulum {
    obs_space: Space,
    act_space: Space,
    state: Option<[f64; 2]>,
    last_u: Option<f32>,
    rng: Option<NumpyRng>,
}

impl Pendulum {
    const MAX_SPEED: f64 = 8.0;
    const MAX_TORQUE: f64 = 2.0;
    const DT: f64 = 0.05;
    const G: f64 = 10.0;

    /// A new, unreset environment.
    pub fn new() -> Self {
        let high = [1.0, 1.0, Self::MAX_SPEED];
        Self {
            obs_space: Space::boxed(high.iter().map(|&h| -h as f32).collect(), f32s(&high)),
            act_space: Space::boxed(vec![-Self::MAX_TORQUE as f32], vec![Self::MAX_TORQUE as f32]),
            state: None,
            last_u: None,
            rng: None,
        }
    }

    fn obs(s: &[f64; 2]) -> Vec<f32> {
        f32s(&[s[0].cos(), s[0].sin(), s[1]])
    }
}

impl_default!(Pendulum);

impl Env for Pendulum {
    env_basics!("Pendulum-v1");

    fn reset(&mut self, seed: Option<u64>) -> Result<(Vec<f32>, Info)> {
        let rng = reseed(&mut self.rng, seed);
        let th = rng.uniform(-PI, PI);
        let thdot = rng.uniform(-1.0, 1.0);
        let s = [th, thdot];
        self.state = Some(s);
        self.last_u = None;
        Ok((Self::obs(&s), Info::new()))
    }

    fn step(&mut self, action: &Action) -> Result<Step> {
        let u = continuous(&self.act_space, action)?[0];
        let [th, thdot] = self.state.ok_or_else(|| not_reset(self.id()))?;
        // np.clip keeps float32; float32 meets Python floats in float32.
        let u = u.clamp(-Self::MAX_TORQUE as f32, Self::MAX_TORQUE as f32);
        self.last_u = Some(u);
        let norm = py_mod(th + PI, 2.0 * PI) - PI;
        let costs = norm * norm + 0.1 * (thdot * thdot) + f64::from(0.001f32 * (u * u));
        let l = 1.0f64;
        let m = 1.0f64;
        let torque = f64::from((3.0 / (m * l * l)) as f32 * u);
        let newthdot = thdot + (3.0 * Self::G / (2.0 * l) * th.sin() + torque) * Self::DT;
        let newthdot = newthdot.clamp(-Self::MAX_SPEED, Self::MAX_SPEED);
        let newth = th + newthdot * Self::DT;
        let s = [newth, newthdot];
        self.state = Some(s);
        Ok(Step {
            obs: Self::obs(&s),
            reward: -costs,
            terminated: false,
            truncated: false,
            info: Info::new(),
        })
    }

    fn render(&self) -> Result<Frame> {
        let [th, _] = self.state.ok_or_else(|| not_reset(self.id()))?;
        let dim = 500usize;
        let mut c = Canvas::new(dim, dim, [255, 255, 255]);
        let bound = 2.2;
        let scale = dim as f64 / (bound * 2.0);
        let off = dim as f64 / 2.0;
        let rod = 1.0 * scale;
        let angle = th + PI / 2.0;
        let end = (off + rod * angle.cos(), off - rod * angle.sin());
        c.line(off, off, end.0, end.1, 0.2 * scale, [204, 77, 77]);
        c.circle(end.0, end.1, 0.1 * scale, [204, 77, 77]);
        c.circle(off, off, 0.05 * scale, [0, 0, 0]);
        if let Some(u) = self.last_u {
            // The applied torque as an arc's length, as Gymnasium's arrow.
            let r = 0.35 * scale;
            let steps = (f64::from(u.abs()) * 20.0) as usize;
            for i in 0..steps {
                let a = f64::from(i as u32) * 0.08 * f64::from(u.signum());
                c.circle(off + r * a.cos(), off - r * a.sin(), 2.0, [0, 0, 0]);
            }
        }
        Ok(c.into_frame())
    }
}
