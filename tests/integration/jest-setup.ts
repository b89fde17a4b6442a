// Integration tests start real processes (trainer, DVC, model loads): allow minutes, not jest's 5 s default.
jest.setTimeout(300_000);
