"""One wrong answer for every check of every lesson, and the right values its message must not give away.

Each entry is (a call of the check with a wrong answer, an expression for the right values). The
expression is evaluated in the lesson's kernel after its solutions have run, so the right values
are computed by the solution, never written here. A number must not appear in the message (to
within rounding); a string must not appear as written.
"""

WRONG_ANSWERS = {
    "01-convolution": [
        # dividing instead of flooring; the questions' sizes must not be revealed
        ("check_out_size(lambda n, k, s, p: (n + 2 * p - k) / s + 1)",
         "[out_size(64, 5, 2, 0), out_size(64, 5, 1, 2)]"),
        # the kernel not rotated
        ("check_full_conv(lambda delta, K: conv_forward_naive(delta[None, None], K[None, None], np.zeros(1),"
         " pad=K.shape[0] - 1)[0][0, 0])", "[]"),
        ("check_winograd_1d(lambda d, g, m, r: np.zeros(m))", "[]"),
    ],
    "02-pooling": [
        ("check_dx_guess(np.zeros((4, 4)))", "[str(dx_guess), str(dx_guess.tolist())]"),
        ("check_border_counts(6, 6)", "[top_left, bottom_right]"),
        ("check_avg_as_conv(Conv2D(3, 3, 2, stride=2, rng=rng, dtype=np.float64))", "[]"),
    ],
    "03-local-response-normalisation": [
        ("check_peak(100.0)", "[a_star]"),
        ("check_pytorch_alpha(1e-4)", "[alpha_ours]"),
        # the window is every channel
        ("check_lrn_by_cumsum(lambda x, size, k, alpha, beta:"
         " x / (k + alpha * np.sum(x ** 2, axis=1, keepdims=True)) ** beta)", "[]"),
    ],
    "04-regularisation": [
        ("check_decay_factor(0.9)", "[factor]"),
        # crosses zero instead of stopping there
        ("check_soft_threshold(lambda w, t: w - t * np.sign(w))", "[]"),
        # the squared norm's gradient
        ("check_norm_penalty(lambda w, strength: (strength * np.linalg.norm(w), strength * w))", "[]"),
    ],
    "05-lstm": [
        # the weights without the biases
        ("check_lstm_parameters(4 * 128 * (128 + 48))", "[count]"),
        # equation (1) as the paper prints it, without its sigmoid
        ("check_forget_gates(lambda layer, x: np.stack([np.concatenate("
         "[np.zeros((len(x), layer.hidden_size)), x[:, t]], axis=1) @ layer.params['W'][:layer.hidden_size].T"
         " for t in range(x.shape[1])], axis=1))", "[]"),
    ],
    "06-gru": [
        ("check_table1_parameters(1, 2)", "[gru_count, lstm_count]"),
        # the package's weights, unchanged
        ("check_to_cho(lambda W, b: (W, b))", "[]"),
        ("check_update_bias(-3.0, 0.5)", "[b_z, kept]"),
    ],
    "07-cnn-lstm": [
        # the shapes of a 24 x 24 crop
        ("check_uncropped_shapes((64, 6, 6), (48, 48))",
         "[str(tuple(pool2_shape)), str(tuple(sequence_shape))]"),
        ("check_parameter_budget('lstm', 0.9)", "[repr(biggest_layer), lstm_share, 100 * lstm_share]"),
    ],
    "08-reading-the-paper": [
        ("check_lstm_gain(30, 30)", "[points, percent]"),
        # the sum of b and c taken for b, and one tail's p-value; significance the wrong way round
        ("check_noise(10_000, 225, exact_p_value(b, 225 - b) / 2, not significant)",
         "[images_needed, b, p_value, str(significant)]"),
        # every CNN-LSTM the study's finished runs contradict (the complement of the solution's)
        ("check_prediction([name for name in CNN_LSTMS if name not in reach])", "[str(reach)]"),
    ],
}
