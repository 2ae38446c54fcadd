#pragma once
// Checkpoints: xgrad::save / xgrad::load of a StateDict, or of any object with state_dict() and
// load_state_dict() (modules, optimizers, schedulers), as NumPy .npz files written atomically.
// Several objects go in one file under prefixes:
//   StateDict all;
//   all.insert_prefixed("model.", model.state_dict());
//   all.insert_prefixed("optimizer.", optimizer.state_dict());
//   xgrad::save(all, "run/ckpt.npz");
//   const StateDict back = xgrad::load("run/ckpt.npz");
//   model.load_state_dict(back.with_prefix("model."));
#include "xgrad/io/atomic_file.h"
#include "xgrad/io/checkpointable.h"
#include "xgrad/io/npz.h"
